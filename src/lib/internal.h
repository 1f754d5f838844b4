/*
 * Every internal header of libkiln, for the files that use most of them
 * (build.c, copy.c, the Dockerfile evaluator, tests). Each module has its
 * own header, next to it; a module includes only what it uses. Not
 * installed.
 */
#ifndef KILN_INTERNAL_H
#define KILN_INTERNAL_H

#include "base/base.h"
#include "base/sink.h"
#include "build.h"
#include "compress/compress.h"
#include "digest/sha256.h"
#include "image/config.h"
#include "image/output.h"
#include "image/platform.h"
#include "image/reference.h"
#include "tar/tar.h"

#endif
