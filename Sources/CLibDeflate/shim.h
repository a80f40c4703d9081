#ifndef PORTAL_CLIBDEFLATE_SHIM_H
#define PORTAL_CLIBDEFLATE_SHIM_H
#include <libdeflate.h>
#endif
