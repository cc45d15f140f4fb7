# libFuzzer targets (src/**/*_fuzz.cpp) build with clang in a separate build tree
# (build/fuzz, see Makefile `fuzz`), since the main tree uses g++.
