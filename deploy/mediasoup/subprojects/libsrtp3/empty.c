/* Empty translation unit: gives mediasoup-worker a static library to link_whole; the code comes from the system library. */
