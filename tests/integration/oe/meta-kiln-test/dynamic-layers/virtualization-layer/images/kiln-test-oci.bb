SUMMARY = "t-95: an image of meta-virtualization's image-oci.bbclass with kiln as its backend"
LICENSE = "MIT"
IMAGE_FSTYPES = "container oci"
IMAGE_INSTALL = "busybox"
# Before "inherit image-oci" (or in local.conf): image-oci.bbclass chooses its
# backend when it is inherited.
OCI_IMAGE_BACKEND = "kiln"
inherit image image-oci
# image-oci's "container" type skips the recipe unless the kernel is
# linux-dummy (a distro setting): this test image builds no kernel anyway.
IMAGE_CONTAINER_NO_DUMMY = "1"
