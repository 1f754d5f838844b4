/* The image model (image/image.h). */
#include <string.h>

#include "image.h"

void kiln_image_release(struct kiln_image *im)
{
    kiln_buf_free(&im->manifest);
    kiln_buf_free(&im->config);
    for (size_t i = 0; im->layers && i < im->nlayers; i++)
        free(im->layers[i].path);
    free(im->layers);
    im->layers = NULL;
    im->nlayers = 0;
    kiln_strlist_free(&im->diff_ids);
}

const struct kiln_buf *kiln_set_top(const struct kiln_image_set *s, const char **digest,
                                    const char **media_type)
{
    if (s->index) {
        *digest = s->index_digest;
        *media_type = s->index_media_type;
        return s->index;
    }
    *digest = s->images[0].manifest_digest;
    *media_type = s->images[0].media_type;
    return &s->images[0].manifest;
}

const struct kiln_platform *kiln_set_platform(const struct kiln_image_set *s)
{
    return s->index ? NULL : &s->images[0].platform;
}

size_t kiln_set_blob_max(const struct kiln_image_set *s)
{
    size_t n = 1;
    for (size_t k = 0; k < s->nimages; k++)
        n += s->images[k].nlayers + 2;
    return n;
}

size_t kiln_set_blobs(const struct kiln_image_set *s, struct kiln_set_blob *v)
{
    size_t n = 0;
    for (size_t k = 0; k < s->nimages; k++)
        for (size_t i = 0; i < s->images[k].nlayers; i++)
            v[n++] = (struct kiln_set_blob){s->images[k].layers[i].digest,
                                            &s->images[k].layers[i], NULL};
    for (size_t k = 0; k < s->nimages; k++) {
        struct kiln_image *im = &s->images[k];
        if (s->index)
            v[n++] = (struct kiln_set_blob){im->manifest_digest, NULL, &im->manifest};
        v[n++] = (struct kiln_set_blob){im->config_digest, NULL, &im->config};
    }
    const char *digest, *mt;
    const struct kiln_buf *top = kiln_set_top(s, &digest, &mt);
    v[n++] = (struct kiln_set_blob){digest, NULL, top};
    return n;
}
