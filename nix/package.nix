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
}:
let
  cargoToml = lib.importTOML ../Cargo.toml;
in
rustPlatform.buildRustPackage {
  pname = cargoToml.package.name;
  inherit (cargoToml.package) version;

  # Only what the build and its tests read, so editing docs or the flake does
  # not rebuild. nix/modules and nix/tests are read by tests/nix_module.rs.
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../Cargo.toml
      ../Cargo.lock
      ../src
      (lib.fileset.maybeMissing ../tests)
      (lib.fileset.maybeMissing ../benches)
      (lib.fileset.maybeMissing ../build.rs)
      ./modules
      ./tests
    ];
  };

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
    export NIX_PATH=nixpkgs=${path}
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
    mainProgram = "secrets";
    platforms = lib.platforms.unix;
  };
}
