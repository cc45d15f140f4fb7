# libFuzzer targets (src/**/*_fuzz.cpp) build with clang in a separate build tree
# (build/fuzz, see Makefile `fuzz`), since the main tree uses g++. scripts/run-fuzzers lists
# each target with its sources and runs each briefly in `make test`:
#   protobuf_codec  src/api/protobuf_fuzz.cpp        Kubernetes protobuf decoding/encoding
#   api_parsers     src/api/parsers_fuzz.cpp         selectors, patches, JSONPath
#   auth_tokens     src/apiserver/auth/tokens_fuzz.cpp  bearer tokens (JWT parsing, signed
#                   ServiceAccount claims), bootstrap tokens, the static token file, YAML → JSON
#                   and audit policies
