# kiln-image.bbclass: container image types built by kiln, for builds without
# meta-virtualization.
#
#   IMAGE_FSTYPES = "oci docker-archive"
#   inherit kiln-image
#
# "oci" writes the OCI layout ${IMAGE_NAME}${IMAGE_NAME_SUFFIX}-oci in
# IMGDEPLOYDIR with the symlinks ${IMAGE_BASENAME}-<tag>-oci (where
# meta-virtualization's classes look for images) and ${IMAGE_LINK_NAME}-oci;
# with OCI_IMAGE_TAR_OUTPUT = "1" also the -oci.tar (OCI archive) and
# -oci-dir.tar files (the names of meta-virtualization's image-oci). "docker-archive"
# writes ${IMAGE_NAME}.docker-archive for docker load, and image.bbclass links
# ${IMAGE_LINK_NAME}.docker-archive to it.
#
# The image is configured with the variables of meta-virtualization's
# image-oci.bbclass (OCI_IMAGE_TAG, OCI_IMAGE_ENTRYPOINT, OCI_IMAGE_CMD,
# OCI_IMAGE_ENV_VARS, OCI_IMAGE_LABELS, OCI_IMAGE_PORTS, OCI_BASE_IMAGE,
# OCI_LAYER_MODE/OCI_LAYERS, ...), so a recipe can move between the two.
# Both types are reproducible: created and file times come from
# REPRODUCIBLE_TIMESTAMP_ROOTFS (KILN_SOURCE_DATE_EPOCH), and a second build
# gives the same digests. bitbake IMAGE -c kiln_push pushes the image.

OCI_IMAGE_TAR_OUTPUT ?= "0"
KILN_OE_LINK_NAME ?= "${IMAGE_LINK_NAME}"

inherit kiln-oe

IMAGE_TYPES:append = " oci docker-archive"

IMAGE_CMD:oci() {
	kiln_oe_image oci
}

IMAGE_CMD:docker-archive() {
	kiln_oe_image docker-archive
}

do_image_oci[depends] += "kiln-native:do_populate_sysroot"
do_image_docker_archive[depends] += "kiln-native:do_populate_sysroot"

python __anonymous() {
    if bb.data.inherits_class('image-oci', d):
        bb.fatal("%s inherits both kiln-image and image-oci: keep image-oci and set "
                 "OCI_IMAGE_BACKEND = \"kiln\", or drop image-oci" % d.getVar('PN'))
    # A base image built by another image recipe (OCI_BASE_IMAGE = "recipe-name")
    # must be deployed before this one; a path (/...) is used as it is.
    base = d.getVar('OCI_BASE_IMAGE') or ''
    if base and not base.startswith('/') and '/' not in base and '.' not in base.split(':')[0]:
        for task in ('do_image_oci', 'do_image_docker_archive'):
            d.appendVarFlag(task, 'depends', ' %s:do_build' % base)
}
