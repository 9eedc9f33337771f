# TEST STUB: a fake `pkgs` for evaluating the modules with only nixpkgs' lib.
# Derivations are plain attribute sets that interpolate to made-up store paths
# and keep what they were made from (tests inspect e.g. the check command).
# Nothing is built or written to the store.
{
  hostSystem ? "x86_64-linux",
}:
let
  isDarwin = builtins.match ".*-darwin" hostSystem != null;

  fakeStorePath = name: "/nix/store/00000000000000000000000000000000-${name}";

  fakeDrv =
    name: attrs:
    attrs
    // {
      inherit name;
      type = "derivation";
      outPath = fakeStorePath name;
    };
in
{
  system = hostSystem;
  stdenv = {
    buildPlatform.canExecute = _: true;
    hostPlatform = {
      system = hostSystem;
      isLinux = !isDarwin;
      inherit isDarwin;
    };
  };
  secrets = fakeDrv "secrets-0.1.0" { pname = "secrets"; };
  age = fakeDrv "age-1.2.1" { pname = "age"; };
  systemd = fakeDrv "systemd-258" { pname = "systemd"; };
  writeText = name: text: fakeDrv name { inherit text; };
  writeShellScript = name: text: fakeDrv name { inherit text; };
  runCommand =
    name: env: buildCommand:
    fakeDrv name { inherit env buildCommand; };
}
