// Anchor TU for the shared precompiled header (see CMakeLists.txt).
