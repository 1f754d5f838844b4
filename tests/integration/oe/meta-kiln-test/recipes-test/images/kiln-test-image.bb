SUMMARY = "t-95: an image built by kiln-image.bbclass (no meta-virtualization)"
LICENSE = "MIT"
IMAGE_FSTYPES = "oci docker-archive"
IMAGE_INSTALL = "busybox"
inherit core-image kiln-image
