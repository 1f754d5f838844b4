#!/bin/bash
# The whole test suite, as CI runs it: install the dependencies, then build
# kiln twice (release with -Werror, and AddressSanitizer+UBSan) and run every
# unit and integration test in both builds against the real consumers; last,
# the libFuzzer targets for a bounded time each.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
jobs=$(nproc)

cmake -B build -S . -DKILN_WERROR=ON
cmake --build build -j"$jobs"
# (in this pass only: t-99-debian-packages builds, installs and purges the .debs)
ctest --test-dir build --output-on-failure -j2

# fakeroot and pseudo preload their libraries before the ASan runtime.
export ASAN_OPTIONS=${ASAN_OPTIONS:-verify_asan_link_order=0:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cmake -B build-asan -S . -DKILN_WERROR=ON -DKILN_SANITIZE=address,undefined \
  -DCMAKE_BUILD_TYPE=Debug
cmake --build build-asan -j"$jobs"
# t-95 (label bitbake) tests meta-kiln under the real BitBake: the release
# build runs it; the sanitizers would only repeat its minutes of parsing.
ctest --test-dir build-asan --output-on-failure -j2 -LE bitbake

# Every parser of outside data under libFuzzer (clang, ASan+UBSan), for a
# bounded time per target, on the seed corpora and the saved regressions.
CC=clang cmake -B build-fuzz -S . -DKILN_FUZZ=ON -DKILN_SANITIZE=address,undefined \
  -DCMAKE_BUILD_TYPE=Debug
cmake --build build-fuzz -j"$jobs" --target kiln-fuzz
KILN_FUZZ_SECONDS=${KILN_FUZZ_SECONDS:-30} ctest --test-dir build-fuzz -L fuzz --output-on-failure -j2
