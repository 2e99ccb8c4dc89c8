# Cross-compiling r1 for 64-bit ARM Linux from x86-64 Debian, with the tests run under qemu-user
# (tests/cross/aarch64.sh installs what this needs and runs it):
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
# Needs gcc-aarch64-linux-gnu, qemu-user and the arm64 (multiarch) -dev packages of the libraries.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
# ctest runs every test binary through the emulator, with the arm64 loader and libraries of the
# multiarch packages under / (the cross toolchain's own copy in /usr/aarch64-linux-gnu is an older
# glibc build: mixing the two hangs pthread_create)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-L;/)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
# pkg-config: the arm64 .pc files only
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_SYSROOT_DIR} /)
