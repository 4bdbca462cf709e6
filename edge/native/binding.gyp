# Sightline's native pixel kernels. Built by scripts/install.cjs through @mapbox/node-pre-gyp (which passes
# module_name and module_path from package.json "binary"); `npm run build -w @sightline/native` rebuilds it.
{
  "targets": [
    {
      "target_name": "<(module_name)",
      "sources": [
        "src/addon.cc",
        "src/args.cc",
        "src/preprocess.cc",
        "src/crop.cc",
        "src/denoise.cc",
        "src/colour.cc",
        "src/motion.cc"
      ],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      # -ffp-contract=off: no fused multiply-add, so float results match the TypeScript kernels bit for bit.
      "cflags_cc": ["-std=c++17", "-O3", "-ffp-contract=off", "-fvisibility=hidden"],
      "cflags_cc!": ["-std=gnu++17", "-O2"],
      "xcode_settings": {
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "GCC_OPTIMIZATION_LEVEL": "3",
        "OTHER_CPLUSPLUSFLAGS": ["-ffp-contract=off"],
        "MACOSX_DEPLOYMENT_TARGET": "11.0"
      },
      "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["/std:c++17", "/O2", "/fp:precise"] } }
    },
    {
      "target_name": "action_after_build",
      "type": "none",
      "dependencies": ["<(module_name)"],
      "copies": [{ "files": ["<(PRODUCT_DIR)/<(module_name).node"], "destination": "<(module_path)" }]
    }
  ]
}
