# kiln-oe.bbclass: what meta-kiln's image classes share.
#
# Not inherited by recipes directly: kiln-image.bbclass (image types "oci" and
# "docker-archive" without meta-virtualization) and image-oci-kiln.inc (kiln
# as OCI_IMAGE_BACKEND of meta-virtualization's image-oci.bbclass) inherit it.
#
# The task functions below only map BitBake variables to the kiln-oe script
# (installed with kiln-native): they hand it NAME=VALUE lines in a quoted
# here-document, so BitBake expands each ${VAR} once and the shell never
# re-parses a value. kiln-oe builds the kiln command line; kiln itself is
# dynamically linked and reads the rootfs through libc, so under pseudo it sees
# the owners, modes, device nodes and xattrs (file capabilities) that the
# recipe set.

# The variables of meta-virtualization's image-oci.bbclass, with its defaults.
# Weak (??=): image-oci.bbclass's own ?= defaults and every recipe or
# configuration value win.
OCI_IMAGE_TAG ??= "latest"
OCI_IMAGE_ENTRYPOINT ??= ""
OCI_IMAGE_ENTRYPOINT_ARGS ??= ""
OCI_IMAGE_CMD ??= "/bin/sh"
OCI_IMAGE_WORKINGDIR ??= ""
OCI_IMAGE_STOPSIGNAL ??= ""
OCI_IMAGE_PORTS ??= ""
OCI_IMAGE_LABELS ??= ""
OCI_IMAGE_ENV_VARS ??= ""
OCI_IMAGE_RUNTIME_UID ??= ""
OCI_IMAGE_AUTHOR ??= "${PATCH_GIT_USER_NAME}"
OCI_IMAGE_AUTHOR_EMAIL ??= "${PATCH_GIT_USER_EMAIL}"
OCI_IMAGE_ARCH ??= "${@kiln_oci_arch(d)}"
OCI_IMAGE_SUBARCH ??= "${@kiln_oci_subarch(d)}"
OCI_IMAGE_OS ??= ""
OCI_IMAGE_REVISION ??= ""
OCI_IMAGE_BRANCH ??= ""
OCI_IMAGE_BUILD_DATE ??= ""
OCI_IMAGE_AUTO_LABELS ??= "1"
OCI_BASE_IMAGE ??= ""
OCI_BASE_IMAGE_TAG ??= "latest"
OCI_LAYER_MODE ??= "single"
OCI_LAYERS ??= ""
OCI_IMAGE_TAR_OUTPUT ??= "true"
# Set by image-oci.bbclass when it resolves OCI_BASE_IMAGE.
_OCI_BASE_RECIPE ??= ""
_OCI_BASE_PATH ??= ""

# kiln's own settings.
# The image's created time, and the bound of its file times: by default the
# time that image.bbclass gives every file of the rootfs. Empty: the exported
# SOURCE_DATE_EPOCH.
KILN_SOURCE_DATE_EPOCH ??= "${REPRODUCIBLE_TIMESTAMP_ROOTFS}"
# gzip (default), zstd or none; and its level.
KILN_COMPRESSION ??= ""
KILN_COMPRESSION_LEVEL ??= ""
# Compression threads (empty: all CPUs; the output is the same for any number).
KILN_JOBS ??= ""
# The cache of compressed gzip blocks (docs/cache.md), shared by every image
# of the build directory; point it at a directory several build directories
# share (as SSTATE_DIR often is) to share it across builds. Empty: no cache.
KILN_CACHE_DIR ??= "${TOPDIR}/kiln-cache"
# Its size limit (kiln's --cache-max-size, e.g. "20G"; empty: kiln's 10G).
KILN_CACHE_MAX_SIZE ??= ""
# pseudo need not track the cache: nothing of it goes into an image, and its
# files are not the rootfs's (an empty KILN_CACHE_DIR adds nothing).
PSEUDO_IGNORE_PATHS:append = "${@(',' + d.getVar('KILN_CACHE_DIR')) if d.getVar('KILN_CACHE_DIR') else ''}"
# key=value manifest annotations.
KILN_OCI_ANNOTATIONS ??= ""
# RepoTags of the docker-archive type.
KILN_DOCKER_TAGS ??= "${IMAGE_BASENAME}:${OCI_IMAGE_TAG}"
# More kiln build options (e.g. "--volume /data"), split at whitespace.
KILN_EXTRA_ARGS ??= ""
# A further name for the OCI layout's symlinks (kiln-image.bbclass: IMAGE_LINK_NAME).
KILN_OE_LINK_NAME ??= ""
KILN_OE_WORKDIR ??= "${WORKDIR}/kiln-oe"
# Where do_rootfs keeps the package lists for "packages" layers.
KILN_OE_PKGDB ??= "${WORKDIR}/kiln-oe/pkgdb"
# "1": a "packages" layer also takes the installed dependencies of its
# packages that no earlier layer has (as image-oci's layer-by-layer install
# does); "0": only the packages named.
KILN_LAYER_PACKAGE_DEPENDS ??= "1"

# GOARCH names, as image-oci.bbclass computes them.
def kiln_oci_arch(d):
    import re
    a = d.getVar('TARGET_ARCH') or ''
    table = [
        (r'i.86$', '386'), (r'x86_64$', 'amd64'), (r'aarch64', 'arm64'), (r'arm', 'arm'),
        (r'mips64el', 'mips64le'), (r'mips64', 'mips64'), (r'mipsel$', 'mipsle'), (r'mips$', 'mips'),
        (r'p(pc|owerpc)64le', 'ppc64le'), (r'p(pc|owerpc)64', 'ppc64'), (r'riscv64$', 'riscv64'),
        (r'loongarch64$', 'loong64'), (r's390x$', 's390x'),
    ]
    for pattern, goarch in table:
        if re.match(pattern, a):
            return goarch
    return a

def kiln_oci_subarch(d):
    a = d.getVar('TARGET_ARCH') or ''
    f = d.getVar('TUNE_FEATURES') or ''
    if a.startswith('arm'):
        for v in ('v7', 'v6', 'v5'):
            if 'arm' + v in f:
                return v
    return ''

# kiln_oe_image TYPE: writes image type TYPE ("oci" or "docker-archive") into
# IMGDEPLOYDIR. Runs inside do_image_<type>, under pseudo.
kiln_oe_image() {
	kiln-oe image "$1" <<'KILN_OE_VARS'
IMAGE_ROOTFS=${IMAGE_ROOTFS}
IMGDEPLOYDIR=${IMGDEPLOYDIR}
IMAGE_NAME=${IMAGE_NAME}
IMAGE_NAME_SUFFIX=${IMAGE_NAME_SUFFIX}
IMAGE_BASENAME=${IMAGE_BASENAME}
DEPLOY_DIR_IMAGE=${DEPLOY_DIR_IMAGE}
TOPDIR=${TOPDIR}
OCI_IMAGE_TAG=${OCI_IMAGE_TAG}
OCI_IMAGE_ENTRYPOINT=${OCI_IMAGE_ENTRYPOINT}
OCI_IMAGE_ENTRYPOINT_ARGS=${OCI_IMAGE_ENTRYPOINT_ARGS}
OCI_IMAGE_CMD=${OCI_IMAGE_CMD}
OCI_IMAGE_WORKINGDIR=${OCI_IMAGE_WORKINGDIR}
OCI_IMAGE_STOPSIGNAL=${OCI_IMAGE_STOPSIGNAL}
OCI_IMAGE_PORTS=${OCI_IMAGE_PORTS}
OCI_IMAGE_LABELS=${OCI_IMAGE_LABELS}
OCI_IMAGE_ENV_VARS=${OCI_IMAGE_ENV_VARS}
OCI_IMAGE_RUNTIME_UID=${OCI_IMAGE_RUNTIME_UID}
OCI_IMAGE_AUTHOR=${OCI_IMAGE_AUTHOR}
OCI_IMAGE_AUTHOR_EMAIL=${OCI_IMAGE_AUTHOR_EMAIL}
OCI_IMAGE_ARCH=${OCI_IMAGE_ARCH}
OCI_IMAGE_SUBARCH=${OCI_IMAGE_SUBARCH}
OCI_IMAGE_OS=${OCI_IMAGE_OS}
OCI_IMAGE_REVISION=${OCI_IMAGE_REVISION}
OCI_IMAGE_BRANCH=${OCI_IMAGE_BRANCH}
OCI_IMAGE_BUILD_DATE=${OCI_IMAGE_BUILD_DATE}
OCI_IMAGE_AUTO_LABELS=${OCI_IMAGE_AUTO_LABELS}
OCI_BASE_IMAGE=${OCI_BASE_IMAGE}
OCI_BASE_IMAGE_TAG=${OCI_BASE_IMAGE_TAG}
_OCI_BASE_RECIPE=${_OCI_BASE_RECIPE}
_OCI_BASE_PATH=${_OCI_BASE_PATH}
OCI_LAYER_MODE=${OCI_LAYER_MODE}
OCI_LAYERS=${OCI_LAYERS}
OCI_IMAGE_TAR_OUTPUT=${OCI_IMAGE_TAR_OUTPUT}
KILN_SOURCE_DATE_EPOCH=${KILN_SOURCE_DATE_EPOCH}
KILN_COMPRESSION=${KILN_COMPRESSION}
KILN_COMPRESSION_LEVEL=${KILN_COMPRESSION_LEVEL}
KILN_JOBS=${KILN_JOBS}
KILN_CACHE_DIR=${KILN_CACHE_DIR}
KILN_CACHE_MAX_SIZE=${KILN_CACHE_MAX_SIZE}
KILN_OCI_ANNOTATIONS=${KILN_OCI_ANNOTATIONS}
KILN_DOCKER_TAGS=${KILN_DOCKER_TAGS}
KILN_EXTRA_ARGS=${KILN_EXTRA_ARGS}
KILN_OE_LINK_NAME=${KILN_OE_LINK_NAME}
KILN_OE_WORKDIR=${KILN_OE_WORKDIR}
KILN_OE_PKGDB=${KILN_OE_PKGDB}
KILN_LAYER_PACKAGE_DEPENDS=${KILN_LAYER_PACKAGE_DEPENDS}
KILN_OE_VARS
}

# "packages" layers read the package manager's file lists, which do_rootfs
# deletes from images without "package-management" in IMAGE_FEATURES, after
# ROOTFS_POSTPROCESS_COMMAND: keep a copy in KILN_OE_PKGDB first.
kiln_oe_save_pkgdb() {
	rm -rf ${KILN_OE_PKGDB}
	if [ "${OCI_LAYER_MODE}" = "multi" ]; then
		kiln-oe save-pkgdb <<'KILN_OE_VARS'
IMAGE_ROOTFS=${IMAGE_ROOTFS}
KILN_OE_PKGDB=${KILN_OE_PKGDB}
OCI_LAYER_MODE=${OCI_LAYER_MODE}
OCI_LAYERS=${OCI_LAYERS}
KILN_OE_VARS
	fi
}
ROOTFS_POSTPROCESS_COMMAND += "kiln_oe_save_pkgdb"

python __anonymous() {
    if d.getVar('OCI_LAYER_MODE') == 'multi':
        d.appendVarFlag('do_rootfs', 'depends', ' kiln-native:do_populate_sysroot')
}

# ---------------------------------------------------------------- push
# bitbake IMAGE -c kiln_push: pushes the deployed image (the OCI layout
# ${IMAGE_BASENAME}-${OCI_IMAGE_TAG}-oci, else ${IMAGE_LINK_NAME}.docker-archive)
# to every reference in KILN_PUSH_REFS. Credentials come from an auth file
# (docker config.json or podman auth.json), never from a variable: BitBake
# writes variables into its logs and run files, kiln never prints credentials.
#
# References (docker:// optional), e.g. "registry.example.com/team/app:1.0".
KILN_PUSH_REFS ??= ""
# The auth file; empty: kiln's defaults ($REGISTRY_AUTH_FILE, podman's and
# docker's files under the build user's home).
KILN_PUSH_AUTHFILE ??= ""
# "0" to verify no certificate (and allow plain http).
KILN_PUSH_TLS_VERIFY ??= "1"
# An extra CA certificate (PEM), or a certs.d-style directory (DIR/HOST:PORT/*.crt).
KILN_PUSH_CA_FILE ??= ""
KILN_PUSH_CERT_DIR ??= ""
KILN_PUSH_RETRIES ??= ""
# Push this instead of the deployed image (a kiln transport: oci:DIR:TAG, ...).
KILN_PUSH_SOURCE ??= ""
# More kiln copy options, split at whitespace.
KILN_PUSH_EXTRA_ARGS ??= ""

do_kiln_push() {
	kiln-oe push <<'KILN_OE_VARS'
PN=${PN}
DEPLOY_DIR_IMAGE=${DEPLOY_DIR_IMAGE}
IMAGE_BASENAME=${IMAGE_BASENAME}
IMAGE_LINK_NAME=${IMAGE_LINK_NAME}
OCI_IMAGE_TAG=${OCI_IMAGE_TAG}
KILN_PUSH_REFS=${KILN_PUSH_REFS}
KILN_PUSH_AUTHFILE=${KILN_PUSH_AUTHFILE}
KILN_PUSH_TLS_VERIFY=${KILN_PUSH_TLS_VERIFY}
KILN_PUSH_CA_FILE=${KILN_PUSH_CA_FILE}
KILN_PUSH_CERT_DIR=${KILN_PUSH_CERT_DIR}
KILN_PUSH_RETRIES=${KILN_PUSH_RETRIES}
KILN_PUSH_SOURCE=${KILN_PUSH_SOURCE}
KILN_PUSH_EXTRA_ARGS=${KILN_PUSH_EXTRA_ARGS}
KILN_OE_VARS
}
addtask kiln_push after do_image_complete
do_kiln_push[doc] = "Pushes the image to the registries named in KILN_PUSH_REFS"
do_kiln_push[network] = "1"
do_kiln_push[nostamp] = "1"
do_kiln_push[dirs] = "${KILN_OE_WORKDIR}"
do_kiln_push[depends] += "kiln-native:do_populate_sysroot"
