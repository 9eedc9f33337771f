# Test keys and encrypted test secrets, made at build time (nothing binary is
# committed). The plaintexts carry the marker "PLAINTEXT-MARKER" so the
# closure check can look for them; they appear only in this derivation's
# build script, never in its output.
{
  runCommand,
  age,
  openssh,
}:
runCommand "secrets-vm-fixtures"
  {
    nativeBuildInputs = [
      age
      openssh
    ];
    passthru = {
      # `openssl passwd -6 -salt vmtestsalt0123 'correct horse battery'`
      aliceHash = "$6$vmtestsalt0123$CIYVyBdrSiAxuEM0D/Gb5XMQacHdIc7JTEDuT3qXa4Nmzt/KygDXEeBHbCi0RuwQ9z2J6q52u9rUTo4ixW94z.";
      alicePassword = "correct horse battery";
    };
  }
  ''
    mkdir -p $out
    ssh-keygen -q -t ed25519 -N "" -C vm-host -f $out/host_key
    ssh-keygen -q -t ed25519 -N "" -C alice -f $out/alice_key

    enc() { printf '%s' "$3" | age -R "$out/$1.pub" -o "$out/$2.age"; }
    enc host_key alice-password '$6$vmtestsalt0123$CIYVyBdrSiAxuEM0D/Gb5XMQacHdIc7JTEDuT3qXa4Nmzt/KygDXEeBHbCi0RuwQ9z2J6q52u9rUTo4ixW94z.'
    enc host_key db-v1 'PLAINTEXT-MARKER-db-v1'
    enc host_key db-v2 'PLAINTEXT-MARKER-db-v2'
    enc host_key api 'PLAINTEXT-MARKER-api'
    enc alice_key hm 'PLAINTEXT-MARKER-hm'
  ''
