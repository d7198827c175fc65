"""Builds ``pki._libcrypto``: the compiled cffi binding behind ``pki.libcrypto``.

Run by setuptools at install time (``cffi_modules`` in ``setup.py``); it needs a C
compiler, the Python headers and OpenSSL 3's headers (Debian: gcc, python3-dev,
libssl-dev — ``scripts/bootstrap.sh`` installs them).

Why compiled (cffi "API mode") and not loaded at run time through libffi ("ABI mode"):
a P-256 signature costs about 27 µs in OpenSSL, and in ABI mode every foreign call adds
about 0.4 µs, ``hashlib`` another 0.7 µs, so the Python side of one signature came to a
sixth of it.  Here each signature or verification is one direct C call that hashes with a
pre-fetched SHA-256 and signs on the caller's reused context; the compiler also checks
every declaration below against OpenSSL's own headers.
"""

from __future__ import annotations

import cffi

ffibuilder = cffi.FFI()

ffibuilder.cdef(
    """
    typedef struct evp_pkey_st EVP_PKEY;
    typedef struct evp_pkey_ctx_st EVP_PKEY_CTX;
    typedef struct evp_md_st EVP_MD;
    typedef struct pkcs8_priv_key_info_st PKCS8_PRIV_KEY_INFO;

    unsigned long OpenSSL_version_num(void);
    const char *OpenSSL_version(int type);
    void ERR_clear_error(void);

    EVP_PKEY *EVP_PKEY_Q_keygen(void *libctx, const char *propq, const char *type, ...);
    EVP_PKEY *d2i_AutoPrivateKey(EVP_PKEY **a, const unsigned char **pp, long length);
    EVP_PKEY *d2i_PUBKEY(EVP_PKEY **a, const unsigned char **pp, long length);
    int i2d_PUBKEY(const EVP_PKEY *a, unsigned char **pp);
    PKCS8_PRIV_KEY_INFO *EVP_PKEY2PKCS8(const EVP_PKEY *pkey);
    int i2d_PKCS8_PRIV_KEY_INFO(const PKCS8_PRIV_KEY_INFO *a, unsigned char **pp);
    void PKCS8_PRIV_KEY_INFO_free(PKCS8_PRIV_KEY_INFO *a);
    void EVP_PKEY_free(EVP_PKEY *pkey);
    int EVP_PKEY_get_base_id(const EVP_PKEY *pkey);
    int EVP_PKEY_get_bits(const EVP_PKEY *pkey);
    int EVP_PKEY_get_size(const EVP_PKEY *pkey);
    int EVP_PKEY_get_group_name(const EVP_PKEY *pkey, char *name, size_t name_sz,
                                size_t *gname_len);

    EVP_PKEY_CTX *EVP_PKEY_CTX_new(EVP_PKEY *pkey, void *e);
    void EVP_PKEY_CTX_free(EVP_PKEY_CTX *ctx);
    int EVP_PKEY_sign_init(EVP_PKEY_CTX *ctx);
    int EVP_PKEY_verify_init(EVP_PKEY_CTX *ctx);
    int EVP_PKEY_CTX_set_signature_md(EVP_PKEY_CTX *ctx, const EVP_MD *md);
    int EVP_PKEY_CTX_set_rsa_padding(EVP_PKEY_CTX *ctx, int pad_mode);
    int EVP_PKEY_CTX_set_rsa_pss_saltlen(EVP_PKEY_CTX *ctx, int saltlen);
    int EVP_PKEY_CTX_set_rsa_mgf1_md(EVP_PKEY_CTX *ctx, const EVP_MD *md);

    const EVP_MD *sealsvc_sha256(void);
    size_t sealsvc_sign_sha256(EVP_PKEY_CTX *ctx, const unsigned char *message, size_t length,
                               char *signature, size_t capacity);
    int sealsvc_verify_sha256(EVP_PKEY_CTX *ctx, const unsigned char *message, size_t length,
                              const unsigned char *signature, size_t signature_length);
    """
)

ffibuilder.set_source(
    "pki._libcrypto",
    r"""
    #include <openssl/crypto.h>
    #include <openssl/err.h>
    #include <openssl/evp.h>
    #include <openssl/rsa.h>
    #include <openssl/x509.h>

    #if OPENSSL_VERSION_MAJOR < 3
    #error "sealsvc needs OpenSSL 3 (Debian 12: libssl-dev)"
    #endif

    /* SHA-256 fetched once from the default provider.  EVP_sha256() or the one-shot
       SHA256() would look the implementation up again on every call (0.7 µs of a 0.25 µs
       hash).  pki.libcrypto calls sealsvc_sha256() at import, under Python's import lock
       and before any thread can sign (cffi releases the GIL around C calls, so a first
       fetch racing in two threads is what this avoids); a fetched EVP_MD is safe to share
       between threads. */
    static EVP_MD *sealsvc_sha256_md;

    static const EVP_MD *sealsvc_sha256(void)
    {
        if (sealsvc_sha256_md == NULL)
            sealsvc_sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
        return sealsvc_sha256_md;
    }

    static int sealsvc_digest(const unsigned char *message, size_t length,
                              unsigned char digest[32])
    {
        unsigned int digest_length = 0;
        const EVP_MD *md = sealsvc_sha256();
        return md != NULL && EVP_Digest(message, length, digest, &digest_length, md, NULL) == 1
               && digest_length == 32;
    }

    /* SHA-256 of the message, signed on ctx; returns the signature's length, 0 on error
       (the error queue is left empty either way).  The output is char[] so that Python
       turns it into bytes with one ffi.unpack(). */
    static size_t sealsvc_sign_sha256(EVP_PKEY_CTX *ctx, const unsigned char *message,
                                      size_t length, char *signature, size_t capacity)
    {
        unsigned char digest[32];
        size_t signature_length = capacity;
        if (!sealsvc_digest(message, length, digest)
            || EVP_PKEY_sign(ctx, (unsigned char *)signature, &signature_length, digest, 32)
                   != 1) {
            ERR_clear_error();
            return 0;
        }
        return signature_length;
    }

    /* 1 when signature is over SHA-256(message); 0 for a mismatch or an undecodable
       signature alike (callers get one answer), with the error queue left empty. */
    static int sealsvc_verify_sha256(EVP_PKEY_CTX *ctx, const unsigned char *message,
                                     size_t length, const unsigned char *signature,
                                     size_t signature_length)
    {
        unsigned char digest[32];
        if (sealsvc_digest(message, length, digest)
            && EVP_PKEY_verify(ctx, signature, signature_length, digest, 32) == 1)
            return 1;
        ERR_clear_error();
        return 0;
    }
    """,
    libraries=["crypto"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
