{
  "targets": [
    {
      "target_name": "phs_fit",
      "sources": [
        "native/noise.cc",
        "native/persistence.cc",
        "native/lm.cc",
        "native/refine.cc",
        "native/decompose.cc",
        "native/batch.cc",
        "native/multi.cc",
        "native/binding.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra"],
      "cflags_cc!": ["-fno-exceptions"]
    }
  ]
}
