#include "CTLSContextTuning.h"

// BoringSSL as vendored by swift-nio-ssl, whose symbols carry the `CNIOBoringSSL_` prefix. Its
// C target is not a product of that package, so the few functions used here are declared by hand,
// with the signatures of its `ssl.h`.
extern uint32_t CNIOBoringSSL_SSL_CTX_set_options(void *ctx, uint32_t options);
extern int CNIOBoringSSL_SSL_CTX_set1_tls13_ciphers(void *ctx, const uint16_t *cipher_ids,
                                                    const uint32_t *flags, size_t count);
extern int CNIOBoringSSL_SSL_CTX_set_ocsp_response(void *ctx, const uint8_t *response, size_t length);

enum {
    OPTION_CIPHER_SERVER_PREFERENCE = 0x00400000,
    TLS13_AES_128_GCM_SHA256 = 0x1301,
    TLS13_AES_256_GCM_SHA384 = 0x1302,
    TLS13_CHACHA20_POLY1305_SHA256 = 0x1303,
};

int portal_tls_prefer_server_ciphers(void *ssl_ctx) {
    if (ssl_ctx == NULL) {
        return 0;
    }
    CNIOBoringSSL_SSL_CTX_set_options(ssl_ctx, OPTION_CIPHER_SERVER_PREFERENCE);
    // No "equal preference" flags: each suite strictly before the next.
    static const uint16_t order[] = {
        TLS13_AES_128_GCM_SHA256,
        TLS13_AES_256_GCM_SHA384,
        TLS13_CHACHA20_POLY1305_SHA256,
    };
    return CNIOBoringSSL_SSL_CTX_set1_tls13_ciphers(ssl_ctx, order, NULL, sizeof(order) / sizeof(order[0]));
}

int portal_tls_set_ocsp_response(void *ssl_ctx, const uint8_t *der, size_t length) {
    if (ssl_ctx == NULL || der == NULL || length == 0) {
        return 0;
    }
    return CNIOBoringSSL_SSL_CTX_set_ocsp_response(ssl_ctx, der, length);
}
