# The `secrets` package: the installer/CLI, its shell completions and man page, and the
# `agenix` and `ragenix` links (invoked under those names it speaks their CLIs).
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
  # Off: this package is what the modules build with a user's own nixpkgs when there is no
  # flake package for the system, and the test suite (minutes, needing age and nix) would
  # run on every such machine, for every nixpkgs bump. The tests run in CI and in the
  # flake's `checks.<system>.package`, which passes `doCheck = true`.
  doCheck ? false,
}:
let
  cargoToml = lib.importTOML ../Cargo.toml;
  fs =
    lib.fileset or (throw "secrets: nix/package.nix needs nixpkgs 23.11 or later (lib.fileset); with older nixpkgs use the flake's package, or set age.package");

  # Editor backups, swap and lock files: never source, even inside the directories taken.
  isEditorFile =
    name:
    lib.hasSuffix "~" name
    || builtins.match "\\..*\\.sw[a-p]" name != null
    || lib.hasPrefix ".#" name
    || (lib.hasPrefix "#" name && lib.hasSuffix "#" name)
    || name == ".DS_Store";
  dir = d: fs.fileFilter (file: !isEditorFile file.name) d;

  # What the build reads: the manifest, the lock file, the code, and the benches the
  # manifest declares ([[bench]] targets must exist for any cargo command). Listed by
  # inclusion, so build output (target/, result*), .direnv/, documents and the flake are
  # never hashed: editing them does not rebuild.
  buildFiles = [
    ../Cargo.toml
    ../Cargo.lock
    (dir ../src)
    (dir ../benches)
  ];
  # What `cargo test` reads besides: the tests, their keys and fixtures, the Nix modules
  # and stubs the module tests evaluate, and the fuzz corpora and shared check the
  # regression test replays and includes.
  checkFiles = [
    (dir ../tests)
    (dir ../testdata)
    (dir ../nix)
    (dir ../fuzz/corpus)
    (dir ../fuzz/common)
  ];
  sourceFiles = fs.unions (buildFiles ++ lib.optionals doCheck checkFiles);

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

  canRun = stdenv.buildPlatform.canExecute stdenv.hostPlatform;
in
lib.warnIf (ageBin != null)
  "secrets: ageBin (${toString ageBin}) is ignored: secrets decrypts with its built-in age implementation; age plugins go in age.plugins (NixOS/nix-darwin/home-manager module)."
  rustPlatform.buildRustPackage
  (
    {
      pname = cargoToml.package.name;
      inherit (cargoToml.package) version;

      src = fs.toSource {
        root = ../.;
        fileset = sourceFiles;
      };
      # tests/nix_module/packaging.rs lists it (lib.fileset.toList).
      passthru = { inherit sourceFiles; };

      cargoLock.lockFile = ../Cargo.lock;

      nativeBuildInputs = [ installShellFiles ];

      inherit doCheck;

      postInstall =
        ''
          ln -s secrets $out/bin/agenix
          ln -s secrets $out/bin/ragenix
        ''
        + lib.optionalString canRun ''
          installShellCompletion --cmd secrets \
            --bash <($out/bin/secrets completions bash) \
            --zsh <($out/bin/secrets completions zsh) \
            --fish <($out/bin/secrets completions fish)
          # One page per command, plus agenix(1) and ragenix(1), as `secrets man --out-dir`
          # writes them.
          $out/bin/secrets man --out-dir man
          installManPage man/*.1
        '';

      meta = {
        inherit (cargoToml.package) description;
        longDescription = ''
          Edits, rekeys and checks age-encrypted secrets named in secrets.nix (agenix's
          format) or secrets.json, and installs them at activation from a manifest the
          NixOS, nix-darwin and home-manager modules build. Invoked as `agenix` or
          `ragenix` it speaks their command lines.
        '';
        license = lib.licenses.mit;
        inherit mainProgram;
        platforms = lib.platforms.linux ++ lib.platforms.darwin;
        sourceProvenance = [ lib.sourceTypes.fromSource ];
      };
    }
    # Only with the tests: otherwise nixpkgs' lib and nix would be inputs of the build, and
    # each nixpkgs revision a rebuild.
    // lib.optionalAttrs doCheck {
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
    }
  )
