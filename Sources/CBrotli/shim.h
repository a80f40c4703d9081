#ifndef PORTAL_CBROTLI_SHIM_H
#define PORTAL_CBROTLI_SHIM_H
#include <brotli/encode.h>
#endif
