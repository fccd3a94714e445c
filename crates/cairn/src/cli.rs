//! Command-line definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// cairn builds reproducible, minimal, layered OCI images from a declarative spec.
#[derive(Debug, Parser)]
#[command(name = "cairn", version, about, max_term_width = 100)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// The store directory [default: $XDG_DATA_HOME/cairn, or ~/.local/share/cairn]
    #[arg(long, global = true, env = "CAIRN_STORE", value_name = "DIR")]
    pub(crate) store: Option<PathBuf>,

    /// Print less on stderr: errors only, no progress
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,

    /// Print more on stderr: each download, package and layer as it is done
    #[arg(long, short, global = true)]
    pub(crate) verbose: bool,

    /// A binary cache to take missing objects from before fetching or building them
    /// (repeatable, asked in order; replaces the config file's `substituters`):
    /// `file:///dir`, `https://host/path`, `s3://bucket/prefix?endpoint=URL`
    #[arg(
        long = "substituter",
        alias = "substituters",
        global = true,
        value_name = "URL"
    )]
    pub(crate) substituters: Vec<String>,

    /// A public key (`name:base64`) whose signatures on cached objects are trusted
    /// (repeatable; added to the config file's `trusted-keys`)
    #[arg(long = "trusted-key", global = true, value_name = "KEY")]
    pub(crate) trusted_keys: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Write a starter `cairn.star` in the project directory
    Init {
        #[command(flatten)]
        project: ProjectArgs,
        /// Replace an existing `cairn.star`
        #[arg(long)]
        force: bool,
    },
    /// Evaluate `cairn.star` and print the plan
    Plan {
        #[command(flatten)]
        project: ProjectArgs,
        /// Print the plan's canonical JSON
        #[arg(long)]
        json: bool,
    },
    /// Resolve the plan's packages and write `cairn.lock`
    Lock(LockArgs),
    /// Build the plan's images from `cairn.lock`
    Build(BuildArgs),
    /// Build an image of the project and load it into podman or docker
    Load(LoadArgs),
    /// Build an image of the project, load it into podman and run it
    Run(RunArgs),
    /// Open a shell in the sandbox of a `run()` step, with the project at /project
    Shell(ShellArgs),
    /// Print an image's layers (size, packages), config and total size
    Inspect(InspectArgs),
    /// Work with the object store
    #[command(subcommand)]
    Store(StoreCommand),
    /// Resolve, inspect and fetch Debian packages
    #[command(subcommand)]
    Debian(DebianCommand),
    /// Build and inspect images
    #[command(subcommand)]
    Image(Box<ImageCommand>),
    /// Binary caches: signing keys, and pushing objects to a cache
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Serve the store as a read-only binary cache over HTTP
    Serve(ServeArgs),
    /// Push an image to a registry: only the blobs it lacks, the manifest last
    Push(PushArgs),
    /// Pull an image from a registry into an OCI layout, every digest checked
    Pull(PullArgs),
}

/// How to reach a registry.
#[derive(Debug, Args)]
pub(crate) struct RegistryArgs {
    /// Credentials, `USER:PASSWORD` [default: the auth file's, or a credential helper's,
    /// or none]
    #[arg(long, value_name = "USER:PASSWORD")]
    pub(crate) creds: Option<String>,
    /// Read credentials from this auth file only [default: REGISTRY_AUTH_FILE, podman's,
    /// then $DOCKER_CONFIG/config.json or ~/.docker/config.json]
    #[arg(long, value_name = "FILE")]
    pub(crate) authfile: Option<PathBuf>,
    /// Allow plain HTTP to a registry that is not on this machine
    #[arg(long)]
    pub(crate) insecure: bool,
}

#[derive(Debug, Args)]
pub(crate) struct PushArgs {
    /// An image of the project (built first), or `oci:DIR`
    pub(crate) image: String,
    /// Where to: `registry/repository[:tag]`
    pub(crate) reference: String,
    /// A repository of the same registry whose blobs may be mounted instead of uploaded
    /// (repeatable)
    #[arg(long, value_name = "REPOSITORY")]
    pub(crate) mount_from: Vec<String>,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
    /// Print the push report as JSON on stdout
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) project: ProjectArgs,
    #[command(flatten)]
    pub(crate) realise: RealiseArgs,
}

#[derive(Debug, Args)]
pub(crate) struct PullArgs {
    /// The image: `registry/repository[:tag][@sha256:…]`
    pub(crate) reference: String,
    /// Where to write it: `oci:DIR`, or `store` (the layout becomes a store object, whose
    /// path is printed)
    pub(crate) dest: String,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CacheCommand {
    /// Write a new ed25519 signing key pair in Nix's format: NAME.secret (keep it
    /// private) and NAME.public (give it to the cache's users for `trusted-keys`)
    Keygen {
        /// The key's name, by convention the cache's host and a number: `cache.example.org-1`
        name: String,
        /// Where to write the two files
        #[arg(long, value_name = "DIR", default_value = ".")]
        dir: PathBuf,
    },
    /// Push the closures of images or objects to a cache, skipping what it has
    Push(CachePushArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CachePushArgs {
    /// The cache: `file:///dir` (or a path), `https://host/path`, `s3://bucket/prefix?endpoint=URL`
    pub(crate) cache: String,
    /// Images of the project (built first; everything their build used is pushed, so
    /// they can be rebuilt from the cache alone), or store objects [default: every image]
    pub(crate) targets: Vec<String>,
    /// Sign the objects pushed with this secret key file (`cairn cache keygen`)
    #[arg(long, value_name = "FILE")]
    pub(crate) sign_key: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) project: ProjectArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The address to listen on
    #[arg(long, default_value = "127.0.0.1:5780", value_name = "ADDR:PORT")]
    pub(crate) listen: String,
    /// Sign every object served with this secret key file, so clients can trust it
    #[arg(long, value_name = "FILE")]
    pub(crate) sign_key: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ImageCommand {
    /// Build an image from Debian packages (the spec language will drive the same
    /// library)
    Build(Box<ImageBuildArgs>),
    /// Print an image's layers (size, packages), config and total size
    Inspect {
        /// `oci:DIR`, `oci-archive:FILE` or `docker-archive:FILE`
        image: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ImageBuildArgs {
    /// Where packages come from (`--mirror`, `--suite`, …; `--suite` is also
    /// `--debian-suite`)
    #[command(flatten)]
    pub(crate) repo: RepoArgs,
    /// A Debian package to install (repeatable)
    #[arg(long = "package", value_name = "PKG", required_unless_present = "lock")]
    pub(crate) packages: Vec<String>,
    /// Build exactly the packages of this lock, without resolving
    #[arg(long, value_name = "FILE", conflicts_with = "packages")]
    pub(crate) lock: Option<PathBuf>,
    /// The entrypoint: a program and its arguments, one per `--entrypoint` (or one
    /// string, split at spaces)
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    pub(crate) entrypoint: Vec<String>,
    /// The default arguments (cmd), one per `--cmd` (or one string, split at spaces)
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    pub(crate) cmd: Vec<String>,
    /// The user the entrypoint runs as: a name (`nonroot`, `root`) or `uid[:gid]`
    #[arg(long, default_value = "root")]
    pub(crate) user: String,
    /// Declares an account (repeatable): `NAME:UID[:GID[:HOME[:SHELL]]]`; GID defaults
    /// to UID, HOME to /home/NAME, SHELL to /sbin/nologin
    #[arg(long = "add-user", value_name = "SPEC")]
    pub(crate) add_users: Vec<String>,
    /// Declares a group (repeatable): `NAME:GID[:MEMBER,...]`
    #[arg(long = "add-group", value_name = "SPEC")]
    pub(crate) add_groups: Vec<String>,
    /// The working directory
    #[arg(long, value_name = "DIR")]
    pub(crate) workdir: Option<String>,
    /// An environment variable, `NAME=value` (repeatable)
    #[arg(long = "env", value_name = "NAME=VALUE")]
    pub(crate) env: Vec<String>,
    /// A port to expose, `8000` or `53/udp` (repeatable)
    #[arg(long = "port", value_name = "PORT")]
    pub(crate) ports: Vec<String>,
    /// A label, `key=value` (repeatable)
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub(crate) labels: Vec<String>,
    /// A volume (repeatable)
    #[arg(long = "volume", value_name = "PATH")]
    pub(crate) volumes: Vec<String>,
    /// The signal that stops the container, e.g. SIGTERM
    #[arg(long, value_name = "SIGNAL")]
    pub(crate) stop_signal: Option<String>,
    /// The most layers the image may have
    #[arg(long, default_value_t = cairn_image::DEFAULT_BUDGET, value_name = "N")]
    pub(crate) layers: usize,
    /// Layer compression: gzip or zstd
    #[arg(long, default_value = "gzip")]
    pub(crate) compression: String,
    /// The image's name (`name:tag`), for docker-archive and the layout's reference
    #[arg(long, default_value = "cairn:latest")]
    pub(crate) name: String,
    /// Keep files that images leave out by default (documentation, manuals, locales)
    #[arg(long)]
    pub(crate) keep_docs: bool,
    /// `oci:DIR`, `oci-archive:FILE` or `docker-archive:FILE`
    #[arg(long, value_name = "DEST")]
    pub(crate) output: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DebianCommand {
    /// Print the packages an install of PKG… needs, as apt would choose them, one
    /// `name version architecture` per line, sorted
    Resolve {
        #[command(flatten)]
        repo: RepoArgs,
        /// Install Recommends too
        #[arg(long)]
        with_recommends: bool,
        /// Print JSON
        #[arg(long)]
        json: bool,
        /// Also write the resolution as a lock file (TOML) to this path
        #[arg(long, value_name = "FILE")]
        write_lock: Option<PathBuf>,
        #[arg(required = true, value_name = "PKG")]
        packages: Vec<String>,
    },
    /// Print the candidate version of a package: its fields and where it comes from
    Show {
        #[command(flatten)]
        repo: RepoArgs,
        /// Print JSON
        #[arg(long)]
        json: bool,
        #[arg(value_name = "PKG")]
        package: String,
    },
    /// Resolve PKG… (or read a lock), download the packages the store lacks, add them
    /// to the store and print their objects
    Fetch {
        #[command(flatten)]
        repo: RepoArgs,
        /// Install Recommends too
        #[arg(long)]
        with_recommends: bool,
        /// Fetch exactly the packages of this lock file, without resolving
        #[arg(long, value_name = "FILE", conflicts_with_all = ["packages", "with_recommends"])]
        lock: Option<PathBuf>,
        /// At most this many downloads at once
        #[arg(long, default_value_t = 8, value_name = "N")]
        connections: usize,
        #[arg(value_name = "PKG", required_unless_present = "lock")]
        packages: Vec<String>,
    },
}

/// Where packages come from.
#[derive(Debug, Args)]
pub(crate) struct RepoArgs {
    /// The archive's mirror
    #[arg(long, default_value = cairn_debian::DEFAULT_MIRROR, value_name = "URL")]
    pub(crate) mirror: String,
    /// The suite (release) to use, e.g. trixie or bookworm
    #[arg(long, visible_alias = "debian-suite", default_value = cairn_debian::DEFAULT_SUITE)]
    pub(crate) suite: String,
    /// A component of the suite (repeatable)
    #[arg(long = "component", default_value = "main", value_name = "NAME")]
    pub(crate) components: Vec<String>,
    /// The architecture of the packages (the image's), e.g. amd64 or arm64
    #[arg(long, default_value = "amd64")]
    pub(crate) arch: String,
    /// The mirror of the security archive, used for stable suites (`<suite>-security`)
    #[arg(long, default_value = cairn_debian::DEFAULT_SECURITY_MIRROR, value_name = "URL")]
    pub(crate) security_mirror: String,
    /// Leave out the security archive
    #[arg(long)]
    pub(crate) no_security: bool,
    /// Trust the armored OpenPGP public keys in FILE instead of Debian's archive keys
    /// (repeatable; for private or derived archives)
    #[arg(long = "keyring", value_name = "FILE")]
    pub(crate) keyrings: Vec<PathBuf>,
    /// Use only what the store has and never touch the network
    #[arg(long)]
    pub(crate) offline: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum StoreCommand {
    /// Add a file or directory to the store and print its object path
    Add(AddArgs),
    /// Print the NAR hash of a path in SRI form, exactly as `nix hash path` does
    HashPath {
        path: PathBuf,
        /// Print `sha256:<nixbase32>` instead of SRI
        #[arg(long)]
        base32: bool,
    },
    /// Write the NAR serialization of a path to stdout (as `nix-store --dump`)
    DumpNar { path: PathBuf },
    /// Show what the store knows about an object
    Info {
        /// An object path, `<hash>-<name>`, a unique hash prefix or name, or a `result` link
        object: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Print the closure of objects: them and everything they reference, dependencies first
    Closure {
        #[arg(required = true)]
        objects: Vec<String>,
    },
    /// Print the objects that refer to an object directly
    Referrers { object: String },
    /// Recompute and check the hashes and permissions of every object, or of the closures of the given ones
    Verify { objects: Vec<String> },
    /// Delete every object that no root reaches
    Gc {
        /// Print what would be deleted, and delete nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Write the closure of objects to stdout as one stream (redirect it to a file)
    Export {
        #[arg(required = true)]
        objects: Vec<String>,
    },
    /// Read an export stream from stdin and add its objects (all or none)
    Import {
        /// Accept input-addressed objects (build outputs), whose contents the stream
        /// cannot prove; only for streams from a source you trust
        #[arg(long)]
        trust_input_addressed: bool,
    },
    /// Manage named roots
    #[command(subcommand)]
    Root(RootCommand),
}

#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// The file or directory to add
    pub(crate) path: PathBuf,
    /// The object's name [default: the path's file name]
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// An object this one needs at run time (repeatable)
    #[arg(long = "reference", value_name = "OBJECT")]
    pub(crate) references: Vec<String>,
    /// Record modes (setuid, setgid, sticky), owners and xattrs of the source in the
    /// object's permissions manifest, instead of the defaults
    #[arg(long)]
    pub(crate) preserve_permissions: bool,
    /// Also create a symlink at this path pointing at the object, and keep the object
    /// alive while the link exists (an indirect GC root, like Nix's `result`)
    #[arg(long, value_name = "LINK")]
    pub(crate) root: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RootCommand {
    /// Make NAME a root for an object
    Add { name: String, object: String },
    /// Remove a named root
    Remove { name: String },
    /// List named and indirect roots
    List,
}

#[derive(Debug, Args)]
pub(crate) struct ProjectArgs {
    /// The project directory (where `cairn.star` is)
    #[arg(long, short = 'C', default_value = ".", value_name = "DIR")]
    pub(crate) project: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct LockArgs {
    #[command(flatten)]
    pub(crate) project: ProjectArgs,
    /// Move pins forward: every package, or only the nodes holding these packages
    #[arg(long, num_args = 0.., value_name = "PKG")]
    pub(crate) upgrade: Option<Vec<String>>,
    /// Trust the armored OpenPGP public keys in FILE instead of Debian's archive keys
    #[arg(long = "keyring", value_name = "FILE")]
    pub(crate) keyrings: Vec<PathBuf>,
    /// Use only the indexes the store has
    #[arg(long)]
    pub(crate) offline: bool,
}

#[derive(Debug, Args)]
#[allow(clippy::struct_excessive_bools)] // independent command-line flags
pub(crate) struct BuildArgs {
    #[command(flatten)]
    pub(crate) project: ProjectArgs,
    /// The images to build [default: all]
    #[arg(value_name = "IMAGE")]
    pub(crate) images: Vec<String>,
    /// Also write the image to `oci:DIR`, `oci-archive:FILE` or `docker-archive:FILE`
    /// (with several images, `{name}` in the path is replaced by each one's name)
    #[arg(long, value_name = "DEST")]
    pub(crate) output: Option<String>,
    /// Refuse a stale lock even where the plan could be built from it (the default
    /// when `CI` is set)
    #[arg(long)]
    pub(crate) locked: bool,
    /// Use only what the store has and never touch the network
    #[arg(long)]
    pub(crate) offline: bool,
    /// Print a JSON report on stdout
    #[arg(long)]
    pub(crate) json: bool,
    /// Do not write `result` links
    #[arg(long)]
    pub(crate) no_link: bool,
    /// Build the images' `run()` steps, run each again, and compare the two outputs
    /// (exits 1 if one differs); writes no image
    #[arg(long, conflicts_with_all = ["output", "no_link", "push"])]
    pub(crate) check: bool,
    /// Also push the image to a registry, `registry/repository[:tag]` (with several
    /// images, `{name}` is replaced by each one's name)
    #[arg(long, value_name = "REF")]
    pub(crate) push: Option<String>,
    /// With `--push`: a repository whose blobs may be mounted (repeatable)
    #[arg(long, value_name = "REPOSITORY", requires = "push")]
    pub(crate) mount_from: Vec<String>,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
}

/// How `cairn load` and `cairn run` build the image: as `cairn build` does.
#[derive(Debug, Args)]
pub(crate) struct RealiseArgs {
    /// Refuse a stale lock even where the plan could be built from it (the default
    /// when `CI` is set)
    #[arg(long)]
    pub(crate) locked: bool,
    /// Use only what the store has and never touch the network
    #[arg(long)]
    pub(crate) offline: bool,
}

/// Where `cairn load` sends an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Engine {
    Podman,
    Docker,
}

#[derive(Debug, Args)]
pub(crate) struct LoadArgs {
    #[command(flatten)]
    pub(crate) project: ProjectArgs,
    /// The image to load [default: the plan's only image]
    #[arg(value_name = "IMAGE")]
    pub(crate) image: Option<String>,
    /// Load into this engine [default: podman if it is installed, else docker]
    #[arg(long, value_enum, value_name = "ENGINE")]
    pub(crate) to: Option<Engine>,
    #[command(flatten)]
    pub(crate) realise: RealiseArgs,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) project: ProjectArgs,
    /// The image to run
    #[arg(value_name = "IMAGE")]
    pub(crate) image: String,
    /// Publish a port, `HOST:CONTAINER` as podman takes it (repeatable) [default: each
    /// port the image exposes, on 127.0.0.1 at the same number]
    #[arg(long = "publish", short = 'p', value_name = "PORTS")]
    pub(crate) publish: Vec<String>,
    #[command(flatten)]
    pub(crate) realise: RealiseArgs,
    /// Arguments for the image's entrypoint (after `--`)
    #[arg(last = true, value_name = "ARGS")]
    pub(crate) args: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ShellArgs {
    #[command(flatten)]
    pub(crate) project: ProjectArgs,
    /// The `run()` step (its `name`) whose sandbox to open: its deps, srcs and
    /// environment, no network; the steps it builds on are built first
    #[arg(value_name = "STEP")]
    pub(crate) step: String,
    #[command(flatten)]
    pub(crate) realise: RealiseArgs,
    /// A command to run instead of `sh` (after `--`)
    #[arg(last = true, value_name = "COMMAND")]
    pub(crate) command: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    #[command(flatten)]
    pub(crate) project: ProjectArgs,
    /// An image of the project (built as `cairn build` does, without `result` links),
    /// or `oci:DIR`, `oci-archive:FILE`, `docker-archive:FILE`
    #[arg(value_name = "IMAGE")]
    pub(crate) image: String,
    /// Print JSON
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) realise: RealiseArgs,
}
