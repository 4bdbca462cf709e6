/** Tracking: the Tracker seam, ByteTrack, the shared Kalman filter, assignment, IoU and the MOTChallenge format. */
export * from './assignment.ts';
export * from './bytetrack.ts';
export * from './create-tracker.ts';
export * from './deepsort.ts';
export * from './gallery.ts';
export * from './iou.ts';
export * from './kalman.ts';
export * from './mot-format.ts';
export * from './tracker.ts';
