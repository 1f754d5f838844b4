/*
 * Transport specs, parsed in one place:
 *
 *   oci:DIR[:NAME|:@INDEX]            an OCI layout
 *   oci-archive:FILE[:NAME|:@INDEX]   a tar of one
 *   docker-archive:FILE[:REF|:@INDEX] what `docker save` writes
 *   docker://[HOST/]REPO[:TAG][@DIGEST]
 *
 * The path ends at the FIRST ':' after the prefix, as containers/image
 * (skopeo, podman) splits oci: and docker-archive: references, so a NAME may
 * itself hold ':' and '/' ("localhost/app:1", which podman writes). A path
 * that holds ':' writes it as "\:" (and a '\' as "\\"); skopeo cannot name
 * such a path at all.
 */
#ifndef KILN_IMAGE_TRANSPORT_H
#define KILN_IMAGE_TRANSPORT_H

#include "../base/base.h"
#include "reference.h"

struct kiln_spec {
    enum kiln_transport kind;
    char *path; /* DIR or FILE, escapes undone, trailing '/' dropped; NULL for docker:// */
    /* oci:, oci-archive:: the org.opencontainers.image.ref.name asked for;
     * docker-archive:: the reference as written. NULL: none given. */
    char *name;
    long index; /* :@INDEX, the image's position (from 0); -1: none given */
    /* docker://: the registry reference. docker-archive: with a name: that
     * name normalised as docker does ("app" is docker.io/library/app:latest). */
    struct kiln_reference ref;
    bool have_ref;
};

/* Parses spec; on failure (KILN_ERR_USAGE) the message names the spec, after
 * `what` if given ("-o"), and for an unknown prefix lists the four transports. */
int kiln_spec_parse(const char *spec, const char *what, struct kiln_spec *s,
                    struct kiln_error *err);
void kiln_spec_free(struct kiln_spec *s);
/* "oci:", "oci-archive:", "docker-archive:", "docker://" */
const char *kiln_transport_prefix(enum kiln_transport t);
/* An org.opencontainers.image.ref.name as containers/image accepts it:
 * components of [A-Za-z0-9]+ joined by one of - . _ : @ + (or "--"),
 * separated by '/'. Also every tag kiln_tag_valid takes ("_x"). */
bool kiln_ref_name_valid(const char *name);
/* Whether a docker-archive image named by RepoTag `repo_tag` is the one
 * `want` names (both normalised: "app:1" is docker.io/library/app:1). */
bool kiln_repo_tag_matches(const char *repo_tag, const struct kiln_reference *want);

/* Where a link member of an image archive points, as an archive path:
 * docker save stores a layer that several images share once, and the other
 * images' directories point at it with a symlink ("../HEX/layer.tar").
 * Fails when the target would leave the archive. */
int kiln_archive_link_resolve(const char *member, const char *target, bool symlink,
                              struct kiln_buf *out, struct kiln_error *err);

#define KILN_TRANSPORTS_HINT                                                             \
    "use oci:DIR[:NAME], oci-archive:FILE[:NAME], docker-archive:FILE[:REF|:@INDEX] or " \
    "docker://HOST/REPO[:TAG]"

#endif
