# Test fixture: the parts of meta-virtualization's classes/image-oci.bbclass
# that a backend depends on, written from its documented behaviour (variable
# names and defaults, and how it loads its backend). Used by t-95 only.
ROOTFS_BOOTSTRAP_INSTALL = ""
IMAGE_TYPEDEP:oci = "container tar.bz2"

OCI_IMAGE_BACKEND ?= "umoci"
do_image_oci[depends] += "${OCI_IMAGE_BACKEND}-native:do_populate_sysroot"

OCI_IMAGE_AUTHOR ?= "${PATCH_GIT_USER_NAME}"
OCI_IMAGE_AUTHOR_EMAIL ?= "${PATCH_GIT_USER_EMAIL}"
OCI_IMAGE_TAG ?= "latest"
OCI_IMAGE_RUNTIME_UID ?= ""
OCI_IMAGE_ARCH ?= "${@fixture_goarch(d)}"
OCI_IMAGE_SUBARCH ?= ""
OCI_IMAGE_ENTRYPOINT ?= ""
OCI_IMAGE_ENTRYPOINT_ARGS ?= ""
OCI_IMAGE_CMD ?= "/bin/sh"
OCI_IMAGE_WORKINGDIR ?= ""
OCI_IMAGE_STOPSIGNAL ?= ""
OCI_IMAGE_PORTS ?= ""
OCI_IMAGE_LABELS ?= ""
OCI_IMAGE_ENV_VARS ?= ""
OCI_IMAGE_REVISION ?= ""
OCI_IMAGE_BRANCH ?= ""
OCI_IMAGE_BUILD_DATE ?= ""
OCI_IMAGE_AUTO_LABELS ?= "1"
OCI_BASE_IMAGE ?= ""
OCI_BASE_IMAGE_TAG ?= "latest"
OCI_LAYER_MODE ?= "single"
OCI_LAYERS ?= ""
OCI_IMAGE_TAR_OUTPUT ?= "true"
# (OCI_IMAGE_OS has no default there.)

def fixture_goarch(d):
    return {'x86_64': 'amd64', 'aarch64': 'arm64'}.get(d.getVar('TARGET_ARCH'), d.getVar('TARGET_ARCH'))

# The backend defines IMAGE_CMD:oci. "include" skips a missing file silently.
OCI_IMAGE_BACKEND_INC ?= "${@"image-oci-" + "${OCI_IMAGE_BACKEND}" + ".inc"}"
include ${OCI_IMAGE_BACKEND_INC}
