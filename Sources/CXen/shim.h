/* CXen shim: what Swift cannot import from libxen directly (function-like macros, barriers,
 * variadic logging), wrapped as static inline functions or constants prefixed cxen_. */
#ifndef CXEN_SHIM_H
#define CXEN_SHIM_H
#ifndef __XEN_TOOLS__
#define __XEN_TOOLS__ 1
#endif
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <xenctrl.h>
#include <xenforeignmemory.h>
#include <xenevtchn.h>
#include <xenstore.h>
#include <xendevicemodel.h>
#include <xentoollog.h>
#include <xen/vm_event.h>
#include "vm_event_shim.h"
#include <xen/io/ring.h>
#include <xen/hvm/save.h>

/* A logger that prints only critical messages, so libxen never writes to our stderr on its own
 * (xc_interface_open prints "Could not obtain handle" outside dom0 otherwise). Destroy it with
 * cxen_logger_destroy after closing every handle that uses it. */
static inline xentoollog_logger *cxen_quiet_logger(void) {
    return (xentoollog_logger *)xtl_createlogger_stdiostream(stderr, XTL_CRITICAL, 0);
}

static inline void cxen_logger_destroy(xentoollog_logger *logger) {
    xtl_logger_destroy(logger);
}

/* HVM_SAVE_CODE() is a function-like macro (xen/hvm/save.h): the typecodes of the records the
 * register driver reads and writes. */
static const uint16_t cxen_hvm_save_code_end = HVM_SAVE_CODE(END);
static const uint16_t cxen_hvm_save_code_header = HVM_SAVE_CODE(HEADER);
static const uint16_t cxen_hvm_save_code_cpu = HVM_SAVE_CODE(CPU);

/* Record layouts the Swift side copies by size: a change in the headers must fail the build. */
_Static_assert(sizeof(struct hvm_save_descriptor) == 8, "hvm_save_descriptor layout");
_Static_assert(sizeof(struct hvm_save_header) == 24, "hvm_save_header layout");
_Static_assert(sizeof(struct hvm_hw_cpu) == 1032, "hvm_hw_cpu layout");
_Static_assert(sizeof(vcpu_guest_context_x86_64_t) == 5168, "vcpu_guest_context x86_64 layout");
_Static_assert(sizeof(struct shared_info) == 3136, "shared_info x86_64 layout");

/* The privcmd page size (XC_PAGE_SIZE is an expression macro). */
static const size_t cxen_page_size = XC_PAGE_SIZE;

#endif
