// Signs through a PKCS#11 KeyStore entry the way Greengrass does, and checks
// the signature with the public key of the entry's certificate, outside the
// token (the JDK's own providers).
//
// usage: java KeyStoreSign CONFIG PIN ALIAS ALGORITHM
//   ALGORITHM: SHA256withECDSA | SHA256withRSA | RSASSA-PSS (SHA-256, MGF1-SHA-256, salt 32)
// Exits 0 only when the entry is a PrivateKeyEntry, the signature was made by
// the token's provider, verifies, and a signature over altered data does not.
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.SecureRandom;
import java.security.Security;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.PSSParameterSpec;

public final class KeyStoreSign {
    private static void fail(String why) {
        System.err.println("FAIL: " + why);
        System.exit(1);
    }

    private static Signature signature(String alg, Provider p) throws Exception {
        Signature s = p == null ? Signature.getInstance(alg) : Signature.getInstance(alg, p);
        if (alg.equals("RSASSA-PSS"))
            s.setParameter(new PSSParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, 32, 1));
        return s;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 4)
            fail("usage: KeyStoreSign CONFIG PIN ALIAS ALGORITHM");
        String cfg = args[0], alias = args[2], alg = args[3];
        char[] pin = args[1].toCharArray();

        Provider token = Security.getProvider("SunPKCS11").configure(cfg);
        KeyStore ks = KeyStore.getInstance("PKCS11", token);
        ks.load(null, pin);
        if (!ks.entryInstanceOf(alias, KeyStore.PrivateKeyEntry.class))
            fail("alias '" + alias + "' is not a PrivateKeyEntry; aliases: "
                 + java.util.Collections.list(ks.aliases()));
        PrivateKey key = (PrivateKey) ks.getKey(alias, pin);
        X509Certificate cert = (X509Certificate) ks.getCertificate(alias);
        if (key == null || cert == null)
            fail("alias '" + alias + "': no key or no certificate");
        System.out.println("entry '" + alias + "': " + key.getAlgorithm() + " private key, certificate "
                           + cert.getSubjectX500Principal());

        byte[] data = new byte[1000];
        new SecureRandom().nextBytes(data);
        Signature signer = signature(alg, token);
        signer.initSign(key);
        signer.update(data);
        byte[] sig = signer.sign();
        if (signer.getProvider() != token)
            fail("the signature was made by " + signer.getProvider().getName() + ", not the token");

        // The token's provider is not installed: these come from the JDK.
        Signature verifier = signature(alg, null);
        verifier.initVerify(cert.getPublicKey());
        verifier.update(data);
        if (!verifier.verify(sig))
            fail(alg + " signature from the token does not verify with the certificate");
        System.out.println(alg + " signature made by " + token.getName() + " verifies with "
                           + verifier.getProvider().getName());

        data[0] ^= 1;
        verifier.initVerify(cert.getPublicKey());
        verifier.update(data);
        if (verifier.verify(sig))
            fail("the signature also verifies over altered data");
    }
}
