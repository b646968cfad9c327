{
  "targets": [
    {
      "target_name": "sdnotify",
      "sources": ["sdnotify.c"],
      "cflags": ["-std=c11", "-Wall", "-Wextra", "-O2"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"]
    }
  ]
}
