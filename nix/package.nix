# The `secrets` package: the installer/CLI, its shell completions and man page,
# and an `agenix` symlink (invoked under that name it speaks agenix's CLI).
{
  lib,
  stdenv,
  rustPlatform,
  installShellFiles,
  age,
  nix,
  path,
  # agenix's package took the age binary it calls (`.override { ageBin = …; }` in agenix's
  # docs). This one decrypts in-process: accepted so such overrides still evaluate, ignored
  # with a warning.
  ageBin ? null,
  # What `nix run` starts: "agenix" for the package the flake exports under agenix's name.
  mainProgram ? "secrets",
}:
let
  cargoToml = lib.importTOML ../Cargo.toml;
  # What the build and its tests read (fixtures in testdata/, the fuzz corpora, the
  # modules): the whole tree but documents, the flake, CI and build output. Listed by
  # exclusion so a new fixture cannot be forgotten; editing docs or the flake does not
  # rebuild. tests/nix_module/ checks it against `git ls-files`.
  excluded = [
    "README.md"
    "SECURITY.md"
    "flake.nix"
    "flake.lock"
    ".ci"
    ".git"
    ".gitignore"
    "target"
    "result"
    "fuzz/target"
    "fuzz/corpus-tmp"
    "fuzz/artifacts"
  ];
  root = toString ../. + "/";
  sourceFilter = path: _type: !(builtins.elem (lib.removePrefix root (toString path)) excluded);

  # The module tests need only nixpkgs' lib. All of nixpkgs as an input would make every
  # nixpkgs revision a new build of this package (and copy nixpkgs into the store on
  # channel systems).
  nixpkgsLib = builtins.path {
    inherit path;
    name = "nixpkgs-lib";
    filter =
      p: _type:
      let
        rel = lib.removePrefix (toString path) (toString p);
      in
      rel == "/lib" || lib.hasPrefix "/lib/" rel;
  };
in
lib.warnIf (ageBin != null)
  "secrets: ageBin (${toString ageBin}) is ignored: secrets decrypts with its built-in age implementation; age plugins go in age.plugins (NixOS/nix-darwin/home-manager module)."
  rustPlatform.buildRustPackage
{
  pname = cargoToml.package.name;
  inherit (cargoToml.package) version;

  src = lib.cleanSourceWith {
    src = ../.;
    filter = sourceFilter;
    name = "secrets-source";
  };
  passthru = { inherit sourceFilter; };

  cargoLock.lockFile = ../Cargo.lock;

  nativeBuildInputs = [ installShellFiles ];

  # `age` for the round-trip tests against the reference implementation;
  # `nix` (nix-instantiate) for the module evaluation test, which only needs
  # nixpkgs' lib from NIX_PATH. Tests that need root skip themselves.
  nativeCheckInputs = [
    age
    nix
  ];
  preCheck = ''
    export HOME=$TMPDIR
    # nix-instantiate --eval only reads files, but opens a store: give it a
    # private one in the sandbox (as nixpkgs' own lib tests do).
    export NIX_STORE_DIR=$TMPDIR/nix-store NIX_STATE_DIR=$TMPDIR/nix-state
    export NIX_LOG_DIR=$TMPDIR/nix-log NIX_CONF_DIR=$TMPDIR/nix-conf
    nix-store --init
    export NIX_PATH=nixpkgs=${nixpkgsLib}
  '';

  postInstall =
    ''
      ln -s secrets $out/bin/agenix
    ''
    + lib.optionalString (stdenv.buildPlatform.canExecute stdenv.hostPlatform) ''
      installShellCompletion --cmd secrets \
        --bash <($out/bin/secrets completions bash) \
        --zsh <($out/bin/secrets completions zsh) \
        --fish <($out/bin/secrets completions fish)
      $out/bin/secrets man > secrets.1
      installManPage secrets.1
    '';

  meta = {
    description = cargoToml.package.description;
    license = lib.licenses.mit;
    inherit mainProgram;
    platforms = lib.platforms.unix;
  };
}
