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

# The source: by default the kiln git repository this layer sits in, at its
# checked-out commit (a commit, not the working tree: uncommitted changes are
# not built), fetched by BitBake's git fetcher with protocol=file. Found when
# the recipe is parsed; a git worktree works as well. To build another
# revision or from a mirror, set both (e.g. in local.conf):
#   KILN_GIT_URI = "git://git.example.com/kiln.git;protocol=https;branch=main"
#   KILN_SRCREV = "<40-hex commit>"
# In a tree without git metadata (a release tarball) there is no default: the
# recipe is skipped with a message that names the two variables, so that only
# a build that needs kiln stops on it.
def kiln_local_repo(d):
    """'TOP COMMIT BRANCH FILE...' of the git checkout holding this recipe
    (BRANCH '-' on a detached HEAD; FILEs: the checkout's HEAD and branch
    files), or '!' and git's complaint when there is none."""
    import subprocess
    here = d.getVar('FILE_DIRNAME')
    try:
        out = subprocess.run(['git', '-C', here, 'rev-parse', '--path-format=absolute',
                              '--show-toplevel', '--git-common-dir', '--git-path', 'HEAD',
                              'HEAD', '--symbolic-full-name', 'HEAD'],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, check=True).stdout.split('\n')
        top, common, head_file, commit, ref = out[:5]
    except OSError as e:
        return '!cannot run git: %s' % e
    except subprocess.CalledProcessError as e:
        return '!' + ' '.join(e.stderr.split())
    files = [head_file]
    branch = '-'
    if ref.startswith('refs/heads/'):
        branch = ref[len('refs/heads/'):]
        files += [f for f in (os.path.join(common, ref), os.path.join(common, 'packed-refs'))
                  if os.path.exists(f)]
    return ' '.join([top, commit, branch] + files)

def kiln_local_uri(d):
    repo = (d.getVar('KILN_LOCAL_REPO') or '!').split()
    if repo[0].startswith('!'):
        return ''
    top, commit, branch = repo[:3]
    return 'git://%s;protocol=file;%s' % (top, 'nobranch=1' if branch == '-' else 'branch=' + branch)

# Once, when the recipe is parsed (and again when the checkout moves on).
KILN_LOCAL_REPO := "${@kiln_local_repo(d)}"
KILN_LOCAL_REPO[doc] = "The git checkout of this layer: top directory, commit and branch"
KILN_GIT_URI ?= "${@kiln_local_uri(d)}"
KILN_SRCREV ?= "${@'' if d.getVar('KILN_LOCAL_REPO').startswith('!') else d.getVar('KILN_LOCAL_REPO').split()[1]}"
SRC_URI = "${@'${KILN_GIT_URI};destsuffix=kiln' if d.getVar('KILN_GIT_URI') else ''} \
           file://kiln-oe \
           "
SRCREV = "${KILN_SRCREV}"

python __anonymous() {
    import re
    # A new commit must parse the recipe again: the checkout's HEAD and branch
    # files are parse dependencies (here, in the recipe's own datastore: ":="
    # expands in a copy).
    repo = (d.getVar('KILN_LOCAL_REPO') or '!').split()
    if not repo[0].startswith('!'):
        for f in repo[3:]:
            bb.parse.mark_dependency(d, f)
    if not d.getVar('KILN_GIT_URI'):
        raise bb.parse.SkipRecipe("no kiln source: git finds no checkout of kiln at %s "
            "(a release tarball?: %s). Set KILN_GIT_URI to the kiln git repository (a BitBake "
            "git URL, e.g. git://HOST/PATH;protocol=https;branch=main) and KILN_SRCREV to the "
            "commit to build (40 hex digits), in local.conf or your distro configuration"
            % (d.getVar('FILE_DIRNAME'), d.getVar('KILN_LOCAL_REPO')[1:]))
    if not re.fullmatch('[0-9a-f]{40}', d.getVar('KILN_SRCREV') or ''):
        raise bb.parse.SkipRecipe("KILN_SRCREV = '%s' is not a commit: set it to the 40 hex "
            "digits of the commit of KILN_GIT_URI to build" % (d.getVar('KILN_SRCREV') or ''))
}

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
# The shell completions, where bash-completion and zsh look for them
# (${datadir}/bash-completion/completions/kiln, ${datadir}/zsh/vendor-completions/_kiln).
FILES:${PN} += "${datadir}/bash-completion ${datadir}/zsh"

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
