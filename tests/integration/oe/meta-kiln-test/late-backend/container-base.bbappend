# What a bbappend that tries to switch meta-virtualization's container-base to
# kiln does: it is read after the recipe's "inherit image-oci", too late.
# t-95 parses container-base with this append and expects the parse to stop.
OCI_IMAGE_BACKEND = "kiln"
