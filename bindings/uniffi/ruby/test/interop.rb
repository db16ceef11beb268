# frozen_string_literal: true

# The Ruby side of the cross-language test: seals or unseals one secret through the Ruby
# binding on the store a `dkm --store` location names, with a pin directory.
#
#   ruby interop.rb seal   STORE PINS_DIR RING IDENTITY_FILE CONTEXT OUT_FILE
#     plaintext from stdin (bytes); writes the armored sealed secret (dkm1:...) to OUT_FILE
#   ruby interop.rb unseal STORE PINS_DIR RING IDENTITY_FILE CONTEXT IN_FILE
#     the sealed secret (binary or armored) from IN_FILE; writes the plaintext bytes to stdout
#
# STORE is a location as `dkm --store` takes it: a directory (the `dkm` command's file
# store), file://DIR, or etcd://HOST:PORT[,HOST:PORT...]/PREFIX (etcds:// for TLS; options as
# in docs/etcd.md). The etcd user's password, if any, comes from $DKM_ETCD_PASSWORD (with
# `?user=NAME` in the URL), as for the command.
#
# Both act as the identity in IDENTITY_FILE (a key holder) on
# Host.new(Store.open(STORE, $DKM_ETCD_PASSWORD), Pins.directory(PINS_DIR), nil): the system
# clock. Exit status: 0 done; 2 a dkm error (`dkm: KIND: message` on stderr); 64 bad usage.

require_relative 'helper'

USAGE = <<~TEXT
  usage: ruby interop.rb seal   STORE PINS_DIR RING IDENTITY_FILE CONTEXT OUT_FILE  (plaintext on stdin)
         ruby interop.rb unseal STORE PINS_DIR RING IDENTITY_FILE CONTEXT IN_FILE   (plaintext to stdout)
  STORE: a directory, file://DIR or etcd://HOST:PORT/PREFIX (password from $DKM_ETCD_PASSWORD)
TEXT

def main(argv)
  verb, location, pins_dir, ring, identity_file, context, path = argv
  unless argv.length == 7 && %w[seal unseal].include?(verb)
    warn USAGE
    return 64
  end
  context = context.b
  password = ENV['DKM_ETCD_PASSWORD']
  password = nil if password&.empty?
  store = Dkm::Store.open(location, password)
  host = Dkm::Host.new(store, Dkm::Pins.directory(pins_dir), nil)
  me = Dkm::Identity.load(identity_file)
  if verb == 'seal'
    $stdin.binmode
    armored = host.seal_armored(ring, $stdin.read, context, me)
    File.write(path, "#{armored}\n")
  else
    sealed = File.binread(path)
    # An armored secret may carry the newline a file ends with; binary ones are taken as is.
    sealed = sealed.strip if sealed.start_with?('dkm1:')
    plaintext = host.unseal(ring, sealed, context, me).plaintext
    $stdout.binmode
    $stdout.write(plaintext)
    $stdout.flush
  end
  0
rescue *DkmTest::ERRORS => e
  warn "dkm: #{DkmTest.kind(e)}: #{e.message}"
  2
end

exit(main(ARGV)) if $PROGRAM_NAME == __FILE__
