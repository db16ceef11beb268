// The Kotlin side of the cross-language test (scripts/test-uniffi.sh): seals and unseals on a
// store with a pin directory, like the Ruby side and the `dkm` command.
//
//   seal   STORE PINS_DIR RING IDENTITY_FILE CONTEXT OUT_FILE   plaintext from stdin;
//                                                             the armored secret to OUT_FILE
//   unseal STORE PINS_DIR RING IDENTITY_FILE CONTEXT IN_FILE    the secret (binary or armored)
//                                                             from IN_FILE; the plaintext to stdout
//
// STORE is a location as `dkm --store` takes it, passed to Store.open: a directory,
// file://DIR or etcd://HOST:PORT/PREFIX; the etcd user's password (a URL with user=) comes
// from the environment, DKM_ETCD_PASSWORD, never the URL.
// A dkm error prints `dkm: KIND: message` to stderr and exits 2; a usage error exits 64; a
// file that cannot be read or written exits 1.
package dev.dkm.test

import dev.dkm.DkmException
import dev.dkm.Host
import dev.dkm.Identity
import dev.dkm.Pins
import dev.dkm.Store
import java.io.File
import java.io.IOException
import kotlin.system.exitProcess

object Interop {
    private const val USAGE =
        "usage: Interop seal|unseal STORE PINS_DIR RING IDENTITY_FILE CONTEXT OUT_FILE|IN_FILE"

    @JvmStatic
    fun main(args: Array<String>) {
        if (args.size != 7 || args[0] !in setOf("seal", "unseal")) {
            System.err.println(USAGE)
            exitProcess(64)
        }
        val verb = args[0]
        val location = args[1]
        val pinsDir = args[2]
        val ring = args[3]
        val identityFile = args[4]
        val context = args[5].toByteArray(Charsets.UTF_8)
        val file = File(args[6])
        val password = System.getenv("DKM_ETCD_PASSWORD") // as the dkm command reads it
        try {
            Store.open(location, password).use { store ->
                Host(store, Pins.directory(pinsDir), null).use { host ->
                    Identity.load(identityFile).use { me ->
                        when (verb) {
                            "seal" -> {
                                val plaintext = System.`in`.readBytes()
                                file.writeText(host.sealArmored(ring, plaintext, context, me) + "\n")
                            }
                            else -> {
                                host.unseal(ring, file.readBytes(), context, me, true).use { opened ->
                                    System.out.write(opened.plaintext())
                                    System.out.flush()
                                }
                            }
                        }
                    }
                }
            }
        } catch (e: DkmException) {
            System.err.println("dkm: ${e.javaClass.simpleName}: ${e.message}")
            exitProcess(2)
        } catch (e: IOException) {
            System.err.println("interop: $e")
            exitProcess(1)
        }
        exitProcess(0)
    }
}
