#!/bin/sh
# Install everything kiln needs to build and to run its whole test suite on
# Debian 12 (bookworm). Idempotent: packages already present are left alone.
# Run as root (or through sudo).
set -eu

BUILD_PKGS="build-essential cmake pkg-config clang \
  libarchive-dev libcurl4-openssl-dev libssl-dev libjansson-dev \
  libdeflate-dev libzstd-dev libsodium-dev libcmocka-dev libclang-rt-14-dev"

TEST_PKGS="docker.io docker-registry skopeo umoci podman oci-image-tool \
  containerd pseudo fakeroot debootstrap attr libcap2-bin jq python3 strace \
  bzip2 xz-utils zstd pigz gzip apache2-utils openssl curl tar \
  iproute2 buildah uidmap busybox-static time util-linux libdeflate-tools \
  zsh python3-yaml"

# tests/integration/t-99-debian-packages.sh: build the .debs, check them, install them.
PACKAGING_PKGS="debhelper dpkg-dev lintian blhc"
# The host packages of OpenEmbedded's sanity checker, for t-95 (meta-kiln under
# the real BitBake): oe-core runs it on every bitbake -e.
OE_PKGS="build-essential chrpath cpio debianutils diffstat file gawk gcc g++ \
  make git iputils-ping libacl1 lz4 locales python3 python3-git python3-jinja2 \
  python3-pexpect python3-subunit socat texinfo unzip wget xz-utils zstd bzip2 \
  patch perl rpcsvc-proto tar util-linux"

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (apt-get needs it)" >&2
  exit 1
fi

missing=""
for p in $BUILD_PKGS $TEST_PKGS $PACKAGING_PKGS $OE_PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing="$missing $p"
done

if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing
fi

# oe-core's sanity checker wants the en_US.UTF-8 locale.
if ! locale -a 2>/dev/null | grep -qx 'en_US\.utf8'; then
  sed -i 's/^# *\(en_US\.UTF-8 UTF-8\)/\1/' /etc/locale.gen
  grep -qx 'en_US.UTF-8 UTF-8' /etc/locale.gen || echo 'en_US.UTF-8 UTF-8' >>/etc/locale.gen
  locale-gen >/dev/null
fi

# BitBake refuses to run as root: t-95 runs it as the unprivileged user oe.
if ! id -u oe >/dev/null 2>&1; then
  useradd --system --create-home --home-dir /var/lib/oe --shell /bin/sh oe
fi

# The Debian packages enable services under systemd; on a build host without
# systemd nothing starts. The tests start their own dockerd and registries.
echo "install-deps: all build and test dependencies are present"
