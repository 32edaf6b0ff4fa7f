//! Recipe files: `rootfs-recipes/NAME.toml` → a validated [`Recipe`].
//!
//! A recipe names a builder and its parameters, plus a smoke command run inside the
//! finished tree. The format is strict (`format_version = 1`, unknown keys rejected) and
//! every error points at `FILE:LINE:COLUMN`, because a recipe is code the learner edits.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use toml::Spanned;

use super::RootfsError;

/// The only recipe `format_version` this build reads.
pub const FORMAT_VERSION: u32 = 1;

/// Mixed into every [`recipe_hash`]: bump it when a builder's output changes, so cached
/// trees built by older code are rebuilt.
pub const BUILDER_VERSION: u32 = 1;

/// Where the host builder looks for programs named without a path: the distribution's own
/// directories. `/usr/local` and per-user shims (pyenv, ~/.cargo/bin) are left out on
/// purpose: a pyenv `python3` shim is a shell script that execs a binary under $HOME.
pub const DEFAULT_SEARCH_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// A parsed, validated recipe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recipe {
    /// The recipe's name: lowercase letters, digits, `-` and `_`, at most 64 characters.
    /// It names the cache entry (`<name>-<hash>`).
    pub name: String,
    /// One line for `rootfs list` and the lesson menu.
    pub description: String,
    /// How to build the tree.
    pub builder: Builder,
    /// A command (argv, `argv[0]` an absolute path inside the tree) run chrooted in the
    /// finished tree; it must exit 0 or the tree is discarded. May be empty (no check).
    pub smoke: Vec<String>,
    /// The file the recipe was read from (not part of the hash).
    #[serde(skip)]
    pub source: PathBuf,
}

/// Which builder makes the tree. In TOML: `[builder] kind = "host" | "debian" |
/// "debootstrap" | "mmdebstrap" | "dnf" | "busybox" | "oci-archive" | "docker-archive"`
/// (`debootstrap` and `mmdebstrap` are `debian` with its `tool` fixed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Builder {
    /// Copy the host's own programs, their ELF interpreter and shared libraries.
    Host(HostParams),
    /// Install a Debian system with mmdebstrap or debootstrap (root and network).
    Debian(DebianParams),
    /// Install a Fedora/RHEL-family system with `dnf --installroot`.
    Dnf(DnfParams),
    /// The static busybox binary and its applet links.
    Busybox(BusyboxParams),
    /// Unpack an OCI image layout tarball, layer by layer, honouring whiteouts.
    OciArchive(ImageParams),
    /// Unpack a `docker save` tarball, layer by layer, honouring whiteouts.
    DockerArchive(ImageParams),
}

/// Parameters of the `dnf` builder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnfParams {
    /// `--releasever`, e.g. `40`; required (dnf cannot guess it for another distribution).
    pub releasever: String,
    /// Packages to install.
    pub packages: Vec<String>,
    /// Package groups to install (`@core` style names without the `@`).
    pub groups: Vec<String>,
    /// Repositories by base URL (`https://…`, `file:///…`); each becomes `--repofrompath`.
    pub repos: Vec<String>,
    /// `.repo` files (absolute, or relative to the recipe's folder), used with the host's
    /// repositories disabled.
    pub repo_files: Vec<PathBuf>,
    /// `install_weak_deps`; default false (a smaller tree).
    pub install_weak_deps: bool,
    /// Check package signatures; default true. A recipe must say `gpgcheck = false`
    /// itself to build from an unsigned repository: never silently unverified.
    pub gpgcheck: bool,
}

/// Parameters of the `busybox` builder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BusyboxParams {
    /// The static busybox binary on the host; default `/bin/busybox` (Debian package
    /// `busybox-static`).
    pub busybox: PathBuf,
}

/// Parameters of the `oci-archive` and `docker-archive` builders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageParams {
    /// The image tarball: absolute, or relative to the recipe's folder. Not part of the
    /// cache key (its content is, through `archive_sha256`), so the same recipe and
    /// tarball give the same tree wherever they sit.
    #[serde(skip)]
    pub archive: PathBuf,
    /// Which image in the archive (a tag such as `debian:12`, or an OCI
    /// `org.opencontainers.image.ref.name`); needed only when it holds several.
    pub image: Option<String>,
    /// SHA-256 of the archive file, read when the recipe is loaded, so the cache key
    /// changes when the tarball does. Empty when the file could not be read (the build
    /// then fails naming it).
    pub archive_sha256: String,
}

impl Builder {
    /// The builder's `kind` as written in TOML.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Host(_) => "host",
            Self::Debian(d) => match d.tool {
                DebianTool::Auto => "debian",
                DebianTool::Mmdebstrap => "mmdebstrap",
                DebianTool::Debootstrap => "debootstrap",
            },
            Self::Dnf(_) => "dnf",
            Self::Busybox(_) => "busybox",
            Self::OciArchive(_) => "oci-archive",
            Self::DockerArchive(_) => "docker-archive",
        }
    }
}

/// Parameters of the `host` builder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostParams {
    /// Programs to copy: a name looked up in `search_path`, or an absolute host path.
    /// A program that is not on the host is skipped with a note (unless also `required`).
    pub binaries: Vec<String>,
    /// Programs that must exist: a missing one fails the build naming its Debian package.
    /// They are copied whether or not they are also listed in `binaries`.
    pub required: Vec<String>,
    /// Also copy the standard library of the python3 found among the programs
    /// (`/usr/lib/python3.X` minus tests, caches, idlelib, tkinter, ensurepip and the
    /// `config-*` build files) and the libraries its extension modules need.
    pub python_stdlib: bool,
    /// Colon-separated absolute directories searched for programs named without a path;
    /// default [`DEFAULT_SEARCH_PATH`].
    pub search_path: String,
}

/// Parameters of the `debian` builder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DebianParams {
    /// The release codename, e.g. `bookworm`.
    pub suite: String,
    /// The debootstrap/mmdebstrap variant; default `minbase`.
    pub variant: String,
    /// The archive URL; default `http://deb.debian.org/debian`.
    pub mirror: String,
    /// Extra packages to install (Debian package names).
    pub include: Vec<String>,
    /// Which tool runs the build; default [`DebianTool::Auto`].
    pub tool: DebianTool,
    /// The archive keyring; default `/usr/share/keyrings/debian-archive-keyring.gpg`.
    pub keyring: Option<PathBuf>,
    /// mmdebstrap's mode: `auto` (root when root, else `unshare`), `root` or `unshare`
    /// (builds without root inside a user namespace, where the kernel allows it).
    pub mode: DebianMode,
}

/// How mmdebstrap gets the privileges a tree needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DebianMode {
    /// `root` when run as root, else `unshare`.
    Auto,
    /// Plain root (needs root).
    Root,
    /// A user namespace with the user's subordinate ids (no root needed).
    Unshare,
}

/// The program that installs a Debian tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DebianTool {
    /// mmdebstrap when installed, else debootstrap.
    Auto,
    /// mmdebstrap (faster: apt resolves and downloads in one go).
    Mmdebstrap,
    /// debootstrap (the classic shell-script installer).
    Debootstrap,
}

impl DebianTool {
    /// The TOML spelling: `auto`, `mmdebstrap`, `debootstrap`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Mmdebstrap => "mmdebstrap",
            Self::Debootstrap => "debootstrap",
        }
    }
}

// ---- raw TOML shapes (spanned, strict) ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecipe {
    format_version: Spanned<i64>,
    name: Spanned<String>,
    description: String,
    #[serde(default)]
    smoke: Option<Spanned<Vec<String>>>,
    builder: Spanned<RawBuilder>,
}

/// Every key any builder accepts; which ones a kind allows is checked after parsing, so
/// errors keep their positions (serde's tagged enums lose them).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBuilder {
    kind: Spanned<String>,
    // host
    binaries: Option<Spanned<Vec<Spanned<String>>>>,
    required: Option<Spanned<Vec<Spanned<String>>>>,
    python_stdlib: Option<Spanned<bool>>,
    search_path: Option<Spanned<String>>,
    // debian
    suite: Option<Spanned<String>>,
    variant: Option<Spanned<String>>,
    mirror: Option<Spanned<String>>,
    include: Option<Spanned<Vec<Spanned<String>>>>,
    tool: Option<Spanned<String>>,
    keyring: Option<Spanned<String>>,
    mode: Option<Spanned<String>>,
    // dnf
    releasever: Option<Spanned<String>>,
    packages: Option<Spanned<Vec<Spanned<String>>>>,
    groups: Option<Spanned<Vec<Spanned<String>>>>,
    repos: Option<Spanned<Vec<Spanned<String>>>>,
    repo_files: Option<Spanned<Vec<Spanned<String>>>>,
    install_weak_deps: Option<Spanned<bool>>,
    gpgcheck: Option<Spanned<bool>>,
    // busybox
    busybox: Option<Spanned<String>>,
    // oci-archive, docker-archive
    archive: Option<Spanned<String>>,
    image: Option<Spanned<String>>,
}

impl RawBuilder {
    /// Every key present, with its span, for the "not a setting of this builder" check.
    fn present(&self) -> Vec<(&'static str, std::ops::Range<usize>)> {
        fn s<T>(
            k: &'static str,
            v: Option<&Spanned<T>>,
        ) -> Option<(&'static str, std::ops::Range<usize>)> {
            v.map(|v| (k, v.span()))
        }
        [
            s("binaries", self.binaries.as_ref()),
            s("required", self.required.as_ref()),
            s("python_stdlib", self.python_stdlib.as_ref()),
            s("search_path", self.search_path.as_ref()),
            s("suite", self.suite.as_ref()),
            s("variant", self.variant.as_ref()),
            s("mirror", self.mirror.as_ref()),
            s("include", self.include.as_ref()),
            s("tool", self.tool.as_ref()),
            s("keyring", self.keyring.as_ref()),
            s("mode", self.mode.as_ref()),
            s("releasever", self.releasever.as_ref()),
            s("packages", self.packages.as_ref()),
            s("groups", self.groups.as_ref()),
            s("repos", self.repos.as_ref()),
            s("repo_files", self.repo_files.as_ref()),
            s("install_weak_deps", self.install_weak_deps.as_ref()),
            s("gpgcheck", self.gpgcheck.as_ref()),
            s("busybox", self.busybox.as_ref()),
            s("archive", self.archive.as_ref()),
            s("image", self.image.as_ref()),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// The keys each builder accepts (besides `kind`).
fn allowed_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "host" => &["binaries", "required", "python_stdlib", "search_path"],
        "debian" => &[
            "suite", "variant", "mirror", "include", "tool", "keyring", "mode",
        ],
        "debootstrap" | "mmdebstrap" => {
            &["suite", "variant", "mirror", "include", "keyring", "mode"]
        }
        "dnf" => &[
            "releasever",
            "packages",
            "groups",
            "repos",
            "repo_files",
            "install_weak_deps",
            "gpgcheck",
        ],
        "busybox" => &["busybox"],
        "oci-archive" | "docker-archive" => &["archive", "image"],
        _ => &[],
    }
}

/// Read and validate the recipe at `path`.
///
/// # Errors
/// [`RootfsError::RecipeRead`] when the file cannot be read; [`RootfsError::RecipeSyntax`]
/// (`FILE:LINE:COLUMN: reason`) when it is not valid TOML, has an unknown key, a value of
/// the wrong type, `format_version` other than 1, or a value that fails validation.
pub fn load_recipe(path: &Path) -> Result<Recipe, RootfsError> {
    let text = crate::paths::read_small_file(path).map_err(|err| RootfsError::RecipeRead {
        path: path.to_path_buf(),
        err,
    })?;
    parse_recipe(&text, path)
}

/// Parse and validate recipe `text`; `path` is used in error messages and stored in
/// [`Recipe::source`].
///
/// # Errors
/// [`RootfsError::RecipeSyntax`] as for [`load_recipe`].
pub fn parse_recipe(text: &str, path: &Path) -> Result<Recipe, RootfsError> {
    let here = |span: std::ops::Range<usize>, reason: String| {
        let (line, column) = line_col(text, span.start);
        RootfsError::RecipeSyntax {
            path: path.to_path_buf(),
            line,
            column,
            reason,
        }
    };
    let raw: RawRecipe = toml::from_str(text).map_err(|e| {
        let reason = e.message().trim().replace('\n', " ");
        here(e.span().unwrap_or(0..0), reason)
    })?;

    if *raw.format_version.get_ref() != i64::from(FORMAT_VERSION) {
        return Err(here(
            raw.format_version.span(),
            format!(
                "format_version {} is not supported: this fromscratch reads recipes with format_version = {FORMAT_VERSION}",
                raw.format_version.get_ref()
            ),
        ));
    }
    let name = raw.name.get_ref();
    if !valid_name(name) {
        return Err(here(
            raw.name.span(),
            format!(
                "the name `{name}` is not allowed: use 1 to 64 lowercase letters, digits, `-` or `_`, starting with a letter or digit"
            ),
        ));
    }
    let smoke = match raw.smoke {
        None => Vec::new(),
        Some(s) => {
            let span = s.span();
            let argv = s.into_inner();
            if let Some(first) = argv.first()
                && !first.starts_with('/')
            {
                return Err(here(
                    span,
                    format!(
                        "the smoke command must start with an absolute path inside the tree, e.g. `/usr/bin/{first}`, not `{first}`"
                    ),
                ));
            }
            argv
        }
    };

    let b = raw.builder.into_inner();
    let kind = b.kind.get_ref().clone();
    let kind = kind.as_str();
    if !allowed_keys(kind).is_empty() {
        for (key, span) in b.present() {
            if !allowed_keys(kind).contains(&key) {
                return Err(here(
                    span,
                    format!(
                        "`{key}` is not a setting of the {kind} builder: remove it or change `kind`"
                    ),
                ));
            }
        }
    }
    let builder = match kind {
        "host" => {
            let programs = |list: Option<Spanned<Vec<Spanned<String>>>>| {
                let mut outv = Vec::new();
                for p in list.map(Spanned::into_inner).unwrap_or_default() {
                    let v = p.get_ref();
                    let ok = !v.is_empty()
                        && !v.contains('\0')
                        && (v.starts_with('/') || !v.contains('/'));
                    if !ok {
                        return Err(here(
                            p.span(),
                            format!(
                                "`{v}` is not a program: give a name such as `ls` (looked up in search_path) or an absolute path such as `/usr/bin/ls`"
                            ),
                        ));
                    }
                    outv.push(p.into_inner());
                }
                Ok(outv)
            };
            let binaries = programs(b.binaries)?;
            let required = programs(b.required)?;
            let search_path = match b.search_path {
                None => DEFAULT_SEARCH_PATH.to_string(),
                Some(sp) => {
                    let v = sp.get_ref();
                    if v.is_empty() || v.split(':').any(|d| !d.starts_with('/')) {
                        return Err(here(
                            sp.span(),
                            format!(
                                "search_path `{v}` must be absolute directories separated by `:`, e.g. `{DEFAULT_SEARCH_PATH}`"
                            ),
                        ));
                    }
                    sp.into_inner()
                }
            };
            Builder::Host(HostParams {
                binaries,
                required,
                python_stdlib: b.python_stdlib.is_some_and(Spanned::into_inner),
                search_path,
            })
        }
        "debian" | "debootstrap" | "mmdebstrap" => {
            let Some(suite) = b.suite else {
                return Err(here(
                    b.kind.span(),
                    "the debian builder needs `suite`, e.g. suite = \"bookworm\"".to_string(),
                ));
            };
            if !valid_word(suite.get_ref(), true) {
                return Err(here(
                    suite.span(),
                    format!(
                        "`{}` is not a suite name: use a codename such as `bookworm`",
                        suite.get_ref()
                    ),
                ));
            }
            let variant = match b.variant {
                None => "minbase".to_string(),
                Some(v) if valid_word(v.get_ref(), false) => v.into_inner(),
                Some(v) => {
                    return Err(here(
                        v.span(),
                        format!(
                            "`{}` is not a variant: use one such as `minbase` or `buildd`",
                            v.get_ref()
                        ),
                    ));
                }
            };
            let mirror = match b.mirror {
                None => "http://deb.debian.org/debian".to_string(),
                Some(m) => {
                    let v = m.get_ref();
                    let ok = ["http://", "https://", "file:/"]
                        .iter()
                        .any(|p| v.starts_with(p))
                        && !v.chars().any(char::is_whitespace);
                    if !ok {
                        return Err(here(
                            m.span(),
                            format!(
                                "`{v}` is not a mirror URL: use one such as `http://deb.debian.org/debian`"
                            ),
                        ));
                    }
                    m.into_inner()
                }
            };
            let mut include = Vec::new();
            for p in b.include.map(Spanned::into_inner).unwrap_or_default() {
                if !valid_package(p.get_ref()) {
                    return Err(here(
                        p.span(),
                        format!(
                            "`{}` is not a Debian package name: use lowercase letters, digits and `+-.`, e.g. `python3`",
                            p.get_ref()
                        ),
                    ));
                }
                include.push(p.into_inner());
            }
            let tool = match (kind, b.tool) {
                ("debootstrap", _) => DebianTool::Debootstrap,
                ("mmdebstrap", _) => DebianTool::Mmdebstrap,
                (_, None) => DebianTool::Auto,
                (_, Some(t)) => match t.get_ref().as_str() {
                    "auto" => DebianTool::Auto,
                    "mmdebstrap" => DebianTool::Mmdebstrap,
                    "debootstrap" => DebianTool::Debootstrap,
                    other => {
                        return Err(here(
                            t.span(),
                            format!(
                                "unknown tool `{other}`: use `auto`, `mmdebstrap` or `debootstrap`"
                            ),
                        ));
                    }
                },
            };
            let keyring = match b.keyring {
                None => None,
                Some(k) if k.get_ref().starts_with('/') => Some(PathBuf::from(k.into_inner())),
                Some(k) => {
                    return Err(here(
                        k.span(),
                        format!(
                            "keyring `{}` must be an absolute path, e.g. /usr/share/keyrings/debian-archive-keyring.gpg",
                            k.get_ref()
                        ),
                    ));
                }
            };
            let mode = match b.mode {
                None => DebianMode::Auto,
                Some(m) => match m.get_ref().as_str() {
                    "auto" => DebianMode::Auto,
                    "root" => DebianMode::Root,
                    "unshare" => DebianMode::Unshare,
                    other => {
                        return Err(here(
                            m.span(),
                            format!("unknown mode `{other}`: use `auto`, `root` or `unshare`"),
                        ));
                    }
                },
            };
            if mode == DebianMode::Unshare && tool == DebianTool::Debootstrap {
                return Err(here(b.kind.span(), "mode = \"unshare\" is mmdebstrap's: debootstrap always needs root; use kind = \"mmdebstrap\" (or kind = \"debian\" with tool = \"mmdebstrap\")".to_string()));
            }
            Builder::Debian(DebianParams {
                suite: suite.into_inner(),
                variant,
                mirror,
                include,
                tool,
                keyring,
                mode,
            })
        }
        "dnf" => {
            let Some(releasever) = b.releasever else {
                return Err(here(b.kind.span(), "the dnf builder needs `releasever`, e.g. releasever = \"40\": dnf cannot guess the release of another distribution".to_string()));
            };
            let rv = releasever.get_ref();
            if rv.is_empty()
                || rv.len() > 32
                || !rv
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-')
            {
                return Err(here(
                    releasever.span(),
                    format!(
                        "`{}` is not a release version: use one such as `40`",
                        releasever.get_ref()
                    ),
                ));
            }
            let words = |list: Option<Spanned<Vec<Spanned<String>>>>,
                         what: &str|
             -> Result<Vec<String>, RootfsError> {
                let mut v = Vec::new();
                for p in list.map(Spanned::into_inner).unwrap_or_default() {
                    if !valid_rpm_name(p.get_ref()) {
                        return Err(here(
                            p.span(),
                            format!("`{}` is not a {what} name", p.get_ref()),
                        ));
                    }
                    v.push(p.into_inner());
                }
                Ok(v)
            };
            let packages = words(b.packages, "package")?;
            let groups = words(b.groups, "group")?;
            if packages.is_empty() && groups.is_empty() {
                return Err(here(
                    b.kind.span(),
                    "the dnf builder needs `packages` or `groups` to install".to_string(),
                ));
            }
            let mut repos = Vec::new();
            for r in b.repos.map(Spanned::into_inner).unwrap_or_default() {
                let v = r.get_ref();
                let ok = ["http://", "https://", "file:///"]
                    .iter()
                    .any(|p| v.starts_with(p))
                    && !v.chars().any(char::is_whitespace);
                if !ok {
                    return Err(here(
                        r.span(),
                        format!(
                            "`{v}` is not a repository URL: use https://…, http://… or file:///…"
                        ),
                    ));
                }
                repos.push(r.into_inner());
            }
            let base = path.parent().unwrap_or(Path::new("."));
            let repo_files: Vec<PathBuf> = b
                .repo_files
                .map(Spanned::into_inner)
                .unwrap_or_default()
                .into_iter()
                .map(|f| base.join(f.into_inner()))
                .collect();
            if repos.is_empty() && repo_files.is_empty() {
                return Err(here(b.kind.span(), "the dnf builder needs a repository: `repos` (base URLs) or `repo_files` (.repo files); the host's own repositories are never used".to_string()));
            }
            Builder::Dnf(DnfParams {
                releasever: releasever.into_inner(),
                packages,
                groups,
                repos,
                repo_files,
                install_weak_deps: b.install_weak_deps.is_some_and(Spanned::into_inner),
                gpgcheck: b.gpgcheck.is_none_or(Spanned::into_inner),
            })
        }
        "busybox" => Builder::Busybox(BusyboxParams {
            busybox: b.busybox.map_or_else(
                || PathBuf::from("/bin/busybox"),
                |p| path.parent().unwrap_or(Path::new(".")).join(p.into_inner()),
            ),
        }),
        "oci-archive" | "docker-archive" => {
            let Some(archive) = b.archive else {
                return Err(here(
                    b.kind.span(),
                    format!("the {kind} builder needs `archive`, the path of the image tarball"),
                ));
            };
            let archive_path = path
                .parent()
                .unwrap_or(Path::new("."))
                .join(archive.get_ref());
            let archive_sha256 = file_sha256(&archive_path).unwrap_or_default();
            let params = ImageParams {
                archive: archive_path,
                image: b.image.map(Spanned::into_inner),
                archive_sha256,
            };
            if kind == "oci-archive" {
                Builder::OciArchive(params)
            } else {
                Builder::DockerArchive(params)
            }
        }
        other => {
            return Err(here(
                b.kind.span(),
                format!(
                    "unknown builder kind `{other}`: use host, debian, debootstrap, mmdebstrap, dnf, busybox, oci-archive or docker-archive"
                ),
            ));
        }
    };

    Ok(Recipe {
        name: name.clone(),
        description: raw.description,
        builder,
        smoke,
        source: path.to_path_buf(),
    })
}

/// SHA-256 of a regular file, hex; `None` when it cannot be read or is not a regular file.
/// Opened with `O_NONBLOCK` and checked with fstat before a byte is read, so a recipe whose
/// `archive` names a FIFO, `/dev/zero` or a terminal never blocks or reads forever
/// (open(2), fifo(7)); the build's preflight then says the archive is not a regular file.
fn file_sha256(path: &Path) -> Option<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Some(hex::encode(h.finalize()))
}

/// 1-based line and column (in characters) of byte offset `at` in `text`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

fn valid_word(w: &str, allow_dash_dot: bool) -> bool {
    !w.is_empty()
        && w.len() <= 64
        && w.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && w.chars().all(|c| {
            c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || (allow_dash_dot && (c == '-' || c == '.'))
        })
}

/// An RPM package or group name: letters of either case, digits and `+-._`
/// (`NetworkManager`, `libX11`, `python3.11`).
fn valid_rpm_name(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 128
        && p.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-._".contains(c))
}

fn valid_package(p: &str) -> bool {
    p.len() >= 2
        && p.chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && p.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '+' || c == '-' || c == '.'
        })
}

/// Resolve a recipe argument to a file.
///
/// A bare name (no `/`, not ending in `.toml`) means `recipes_dir()/NAME.toml`; anything
/// else is a path to a recipe file.
///
/// # Errors
/// [`RootfsError::UnknownRecipe`] (listing the available names) for an unknown name;
/// [`RootfsError::RecipeNotFound`] for a path with no file.
pub fn find_recipe(name_or_path: &str) -> Result<PathBuf, RootfsError> {
    if name_or_path.contains('/') || name_or_path.ends_with(".toml") {
        let path = PathBuf::from(name_or_path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(RootfsError::RecipeNotFound { path })
        };
    }
    let dir = crate::paths::recipes_dir();
    let path = dir.join(format!("{name_or_path}.toml"));
    if valid_name(name_or_path) && path.is_file() {
        return Ok(path);
    }
    let mut available: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter_map(|e| {
                    let p = e.path();
                    (p.extension().is_some_and(|x| x == "toml"))
                        .then(|| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                        .flatten()
                })
                .collect()
        })
        .unwrap_or_default();
    available.sort();
    Err(RootfsError::UnknownRecipe {
        name: name_or_path.to_string(),
        available,
        dir,
    })
}

/// The recipe's cache key: the first 16 hex digits of the SHA-256 of its canonical form.
///
/// The canonical form is the parsed recipe re-serialised (format version, name, builder
/// with all defaults filled in, smoke command) plus [`BUILDER_VERSION`]; so comments,
/// key order and whitespace do not change the hash, and any setting does. The
/// `description` and the file's location are left out: they do not change the tree.
#[must_use]
pub fn recipe_hash(recipe: &Recipe) -> String {
    #[derive(Serialize)]
    struct Canonical<'a> {
        builder_version: u32,
        format_version: u32,
        name: &'a str,
        builder: &'a Builder,
        smoke: &'a [String],
    }
    let canonical = Canonical {
        builder_version: BUILDER_VERSION,
        format_version: FORMAT_VERSION,
        name: &recipe.name,
        builder: &recipe.builder,
        smoke: &recipe.smoke,
    };
    // Serialising plain strings, bools and vectors cannot fail; fall back to Debug anyway.
    let bytes = serde_json::to_vec(&canonical)
        .unwrap_or_else(|_| format!("{:?}{:?}", recipe, BUILDER_VERSION).into_bytes());
    let digest = Sha256::digest(&bytes);
    let mut hex = hex::encode(digest);
    hex.truncate(16);
    hex
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Classify;

    const GOOD: &str = r#"# a comment
format_version = 1
name = "mini"
description = "a tiny host tree"
smoke = ["/bin/sh", "-c", "true"]

[builder]
kind = "host"
binaries = ["sh", "ls"]
required = ["sh"]
python_stdlib = false
"#;

    fn parse(text: &str) -> Result<Recipe, RootfsError> {
        parse_recipe(text, Path::new("r.toml"))
    }

    fn position(e: &RootfsError) -> (usize, usize, String) {
        match e {
            RootfsError::RecipeSyntax {
                line,
                column,
                reason,
                ..
            } => (*line, *column, reason.clone()),
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn parses_a_good_recipe_with_defaults() {
        let r = parse(GOOD).unwrap();
        assert_eq!(r.name, "mini");
        assert_eq!(r.smoke, ["/bin/sh", "-c", "true"]);
        assert_eq!(
            r.builder,
            Builder::Host(HostParams {
                binaries: vec!["sh".into(), "ls".into()],
                required: vec!["sh".into()],
                python_stdlib: false,
                search_path: DEFAULT_SEARCH_PATH.into(),
            })
        );
    }

    #[test]
    fn misspelled_key_points_at_its_line_and_column() {
        let text = GOOD.replace("binaries =", "binarys =");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let (line, column, reason) = position(&e);
        assert_eq!((line, column), (9, 1), "{reason}");
        assert!(reason.contains("unknown field `binarys`"), "{reason}");
        assert!(
            e.to_string()
                .starts_with("r.toml:9:1: unknown field `binarys`"),
            "{e}"
        );
    }

    #[test]
    fn misspelled_top_level_key_is_rejected() {
        let text = GOOD.replace("description =", "descripton =");
        let e = parse(&text).unwrap_err();
        let (line, column, reason) = position(&e);
        assert_eq!((line, column), (4, 1), "{reason}");
        assert!(reason.contains("descripton"), "{reason}");
    }

    #[test]
    fn wrong_type_points_at_the_value() {
        let text = GOOD.replace("python_stdlib = false", "python_stdlib = \"yes\"");
        let e = parse(&text).unwrap_err();
        let (line, column, reason) = position(&e);
        assert_eq!((line, column), (11, 17), "{reason}");
        assert!(reason.contains("invalid type"), "{reason}");
        assert!(reason.contains("bool"), "{reason}");
    }

    #[test]
    fn format_version_is_required_and_must_be_1() {
        let e = parse(&GOOD.replace("format_version = 1\n", "")).unwrap_err();
        let (_, _, reason) = position(&e);
        assert!(reason.contains("format_version"), "{reason}");
        let e = parse(&GOOD.replace("format_version = 1", "format_version = 2")).unwrap_err();
        let (line, column, reason) = position(&e);
        assert_eq!((line, column), (2, 18));
        assert!(
            reason.contains("format_version 2 is not supported"),
            "{reason}"
        );
    }

    #[test]
    fn settings_of_another_builder_are_rejected() {
        let text = GOOD.replace("python_stdlib = false", "suite = \"bookworm\"");
        let e = parse(&text).unwrap_err();
        let (line, column, reason) = position(&e);
        assert_eq!((line, column), (11, 9));
        assert!(
            reason.contains("`suite` is not a setting of the host builder"),
            "{reason}"
        );
    }

    #[test]
    fn unknown_kind_and_bad_values_are_rejected() {
        let e = parse(&GOOD.replace("kind = \"host\"", "kind = \"lxc\"")).unwrap_err();
        assert!(position(&e).2.contains("unknown builder kind `lxc`"));
        // A key of another builder is named as such.
        let e = parse(&GOOD.replace("kind = \"host\"", "kind = \"dnf\"")).unwrap_err();
        assert!(
            position(&e)
                .2
                .contains("is not a setting of the dnf builder"),
            "{e}"
        );
        let e = parse(&GOOD.replace("\"/bin/sh\", \"-c\"", "\"sh\", \"-c\"")).unwrap_err();
        assert!(position(&e).2.contains("absolute path"));
        let e = parse(&GOOD.replace("name = \"mini\"", "name = \"../x\"")).unwrap_err();
        assert_eq!(position(&e).0, 3);
        let deb = "format_version = 1\nname = \"d\"\ndescription = \"\"\n[builder]\nkind = \"debian\"\nsuite = \"bookworm\"\ninclude = [\"python3\", \"--evil\"]\n";
        let e = parse(deb).unwrap_err();
        let (line, column, reason) = position(&e);
        assert_eq!((line, column), (7, 23), "{reason}");
    }

    #[test]
    fn dnf_needs_releasever_and_a_repository() {
        let head = "format_version = 1\nname = \"f\"\ndescription = \"x\"\n[builder]\nkind = \"dnf\"\npackages = [\"bash\"]\n";
        let e = parse(&format!("{head}repos = [\"file:///srv/repo\"]\n")).unwrap_err();
        let (line, column, reason) = position(&e);
        assert_eq!((line, column), (5, 8), "{reason}");
        assert!(reason.contains("needs `releasever`"), "{reason}");
        let e = parse(&format!("{head}releasever = \"40\"\n")).unwrap_err();
        assert!(position(&e).2.contains("needs a repository"), "{e}");
        let ok = parse(&format!(
            "{head}releasever = \"40\"\nrepos = [\"file:///srv/repo\"]\n"
        ))
        .unwrap();
        assert!(matches!(ok.builder, Builder::Dnf(ref d) if d.gpgcheck && !d.install_weak_deps));
    }

    #[test]
    fn debian_defaults() {
        let deb = "format_version = 1\nname = \"d\"\ndescription = \"x\"\n[builder]\nkind = \"debian\"\nsuite = \"bookworm\"\n";
        let r = parse(deb).unwrap();
        assert_eq!(
            r.builder,
            Builder::Debian(DebianParams {
                suite: "bookworm".into(),
                variant: "minbase".into(),
                mirror: "http://deb.debian.org/debian".into(),
                include: vec![],
                tool: DebianTool::Auto,
                keyring: None,
                mode: DebianMode::Auto,
            })
        );
    }

    #[test]
    fn hash_ignores_comments_and_layout_but_not_content() {
        let a = parse(GOOD).unwrap();
        let reformatted = GOOD
            .replace("# a comment", "# another comment entirely")
            .replace(
                "binaries = [\"sh\", \"ls\"]",
                "binaries = [ \"sh\",\n  \"ls\", ]   # trailing",
            );
        let b = parse(&reformatted).unwrap();
        assert_eq!(recipe_hash(&a), recipe_hash(&b));
        assert_eq!(recipe_hash(&a).len(), 16);
        assert!(recipe_hash(&a).chars().all(|c| c.is_ascii_hexdigit()));

        let c = parse(&GOOD.replace("[\"sh\", \"ls\"]", "[\"sh\", \"cat\"]")).unwrap();
        assert_ne!(recipe_hash(&a), recipe_hash(&c));
        let d = parse(&GOOD.replace("python_stdlib = false", "python_stdlib = true")).unwrap();
        assert_ne!(recipe_hash(&a), recipe_hash(&d));
        // writing a default explicitly is the same recipe
        let e = parse(&GOOD.replace(
            "python_stdlib = false",
            "python_stdlib = false\nsearch_path = \"/usr/sbin:/usr/bin:/sbin:/bin\"",
        ))
        .unwrap();
        assert_eq!(recipe_hash(&a), recipe_hash(&e));
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\ncé d", 7), (2, 4));
        assert_eq!(line_col("x", 0), (1, 1));
    }

    #[test]
    fn shipped_recipes_parse() {
        for name in ["host", "debian"] {
            let path = crate::paths::recipes_dir().join(format!("{name}.toml"));
            let r = load_recipe(&path).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(r.name, name);
            assert_eq!(r.builder.kind(), name);
        }
    }

    #[test]
    fn unknown_recipe_lists_the_available_ones() {
        let e = find_recipe("no-such-recipe").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let msg = e.to_string();
        assert!(msg.contains("`no-such-recipe`"), "{msg}");
        for name in ["`busybox`", "`debian`", "`fedora`", "`host`"] {
            assert!(msg.contains(name), "{name} not listed: {msg}");
        }
        assert!(
            find_recipe("host")
                .unwrap()
                .ends_with("rootfs-recipes/host.toml")
        );
        let e = find_recipe("/nonexistent/x.toml").unwrap_err();
        assert!(matches!(e, RootfsError::RecipeNotFound { .. }));
    }
}
