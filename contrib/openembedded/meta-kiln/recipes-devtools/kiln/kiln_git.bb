SUMMARY = "Build OCI and Docker container images without Docker, and push them to registries"
DESCRIPTION = "kiln writes OCI layouts, OCI archives and docker-archive files from \
directory trees and tarballs in one reproducible pass, and pushes them to \
registries. It reads trees through libc, so under pseudo it records the owners, \
modes, device nodes and file capabilities a recipe set. kiln-native also \
installs kiln-oe, the helper that meta-kiln's image classes call."
SECTION = "devel"
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://LICENSE;md5=3b83ef96387f14655fc854ddc3c6bd57"

# kiln links these dynamically: pseudo must see its file accesses, so no
# static build.
DEPENDS = "libarchive curl openssl jansson libdeflate zstd"

# The project's git repository and the revision to build, for every variant
# (kiln, kiln-native, nativesdk-kiln). Set KILN_GIT_URI (e.g. in local.conf)
# to the kiln repository or a mirror of it: the default is a placeholder until
# the project publishes its address.
KILN_GIT_URI ?= "git://kiln.invalid/kiln.git;protocol=https;branch=main"
SRC_URI = "${KILN_GIT_URI};destsuffix=kiln \
           file://kiln-oe \
           "
KILN_SRCREV ?= "1685e6a1778c3a83cac4386841991c04b1ec4be4"
SRCREV = "${KILN_SRCREV}"
PV = "0.1.0+git"

# UNPACKDIR since styhead, WORKDIR before.
KILN_UNPACKDIR = "${@d.getVar('UNPACKDIR') or d.getVar('WORKDIR')}"
S = "${KILN_UNPACKDIR}/kiln"

inherit cmake pkgconfig

# The unit tests need cmocka and the integration tests docker and friends:
# neither belongs in a build.
EXTRA_OECMAKE = "-DKILN_BUILD_TESTS=OFF -DKILN_WERROR=OFF"

PACKAGES =+ "libkiln"
FILES:libkiln = "${libdir}/libkiln${SOLIBS}"

# kiln-oe serves the image classes on the build host (and in an SDK).
do_install:append:class-native() {
	install -d ${D}${bindir}
	install -m 0755 ${KILN_UNPACKDIR}/kiln-oe ${D}${bindir}/kiln-oe
}
do_install:append:class-nativesdk() {
	install -d ${D}${bindir}
	install -m 0755 ${KILN_UNPACKDIR}/kiln-oe ${D}${bindir}/kiln-oe
}

BBCLASSEXTEND = "native nativesdk"
