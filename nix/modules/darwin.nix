# nix-darwin module. UNTESTED: there is no macOS machine in this project's CI;
# it is written to mirror agenix's darwin support and evaluated nowhere yet.
#
# Same `age.*` options as the NixOS module (minus the Linux-only ones). A
# launchd daemon creates a RAM disk at secretsMountPoint (as agenix does) and
# runs `secrets install`; macOS has no tmpfs, so the manifest says
# "filesystem": "none" (the installer uses the mounted directory as is).
{
  config,
  options,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib) mkIf mapAttrsToList filterAttrs;
  shared = import ./shared.nix { inherit lib; };
  cfg = config.age;

  hasSecrets = cfg.secrets != { } || cfg.templates != { };

  manifest = shared.mkManifest {
    inherit cfg;
    filesystem = "none";
    restartMode = "none"; # no systemd
  };
  manifestFile = pkgs.writeText "agenix-manifest.json" (builtins.toJSON manifest);
  canCheck = pkgs.stdenv.buildPlatform.canExecute pkgs.stdenv.hostPlatform;
  checkedManifest =
    if cfg.validateManifest && canCheck then
      pkgs.runCommand "agenix-manifest-checked.json" { } ''
        ${cfg.package}/bin/secrets install --check --manifest ${manifestFile}
        cp ${manifestFile} "$out"
      ''
    else
      manifestFile;

  # 512 MiB worth of 512-byte sectors, as agenix.
  mountRamDisk = ''
    mkdir -p "${cfg.secretsMountPoint}"
    if ! /usr/sbin/diskutil info "${cfg.secretsMountPoint}" >/dev/null 2>&1; then
      dev=$(/usr/bin/hdiutil attach -nomount ram://1048576 | /usr/bin/sed 's/[[:space:]]*$//')
      /sbin/newfs_hfs -v agenix "$dev"
      /sbin/mount -t hfs -o nobrowse,nodev,nosuid,-m=0751 "$dev" "${cfg.secretsMountPoint}"
    fi
  '';
  # Without secrets the installer only has work when an earlier generation is
  # still linked (it then switches to an empty one); otherwise it does nothing,
  # and a host that never had secrets should not get a RAM disk.
  ramDisk =
    if hasSecrets then
      mountRamDisk
    else
      ''
        if [ -L "${cfg.secretsDir}" ]; then
        ${mountRamDisk}
        fi
      '';
in
{
  imports = [ (import ./options.nix { isDarwin = true; }) ];

  config = lib.mkMerge [
    {
      age.manifest = manifest;
      age.manifestFile = checkedManifest;
    }
    (mkIf hasSecrets {
      assertions =
        (shared.checks cfg).assertions
        ++ mapAttrsToList (n: _: {
          assertion = false;
          message = "age.secrets.${n}.neededForUsers is not supported on nix-darwin.";
        }) (filterAttrs (_: s: s.neededForUsers) cfg.secrets);
      warnings =
        (shared.checks cfg).warnings
        ++ shared.skippedCheckWarnings { inherit cfg pkgs canCheck; }
        ++ lib.optional (lib.any (s: s.restartUnits != [ ] || s.reloadUnits != [ ]) (
          lib.attrValues cfg.secrets ++ lib.attrValues cfg.templates
        )) "age: restartUnits/reloadUnits are ignored on nix-darwin (no systemd).";

    })

    # Also without secrets: a leftover agenix setting should be noticed before the
    # first secret is added.
    {
      warnings = lib.optional (options.age.ageBin.highestPrio < (lib.mkOptionDefault null).priority) "age.ageBin is set but unused: secrets are decrypted by age.package; remove age.ageBin (age plugins go in age.plugins).";
    }

    # Defined even without secrets, so that removing the last one removes its
    # plaintext at the next activation. Re-run whenever the plist changes, i.e.
    # on every activation that changes the manifest.
    {
      launchd.daemons.activate-agenix = {
        script = ''
          set -e
          ${ramDisk}
          exec ${cfg.package}/bin/secrets install --manifest ${checkedManifest}
        '';
        serviceConfig = {
          RunAtLoad = true;
          KeepAlive.SuccessfulExit = false;
        };
      };
    }
  ];
}
