#ifndef PORTAL_CTLS_CONTEXT_TUNING_H
#define PORTAL_CTLS_CONTEXT_TUNING_H

#include <stddef.h>
#include <stdint.h>

/// Settings of a BoringSSL `SSL_CTX` that swift-nio-ssl does not expose.
/// `ssl_ctx` is the context of a `NIOSSLContext` that no connection has used yet.

/// Makes the server choose the cipher suite by its own order, for TLS 1.2 (the configured list)
/// and TLS 1.3 (AES-128-GCM, then AES-256-GCM, then ChaCha20-Poly1305). Returns 1 on success.
int portal_tls_prefer_server_ciphers(void *ssl_ctx);

/// Staples `der` (a DER-encoded OCSP response) to every handshake on the context. Returns 1 on success.
int portal_tls_set_ocsp_response(void *ssl_ctx, const uint8_t *der, size_t length);

#endif
