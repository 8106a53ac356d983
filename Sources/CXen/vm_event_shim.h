/* vm_event ring helpers for Swift: the back-end half of xen/io/ring.h (function-like macros and
 * barriers, which Swift cannot import), wrapped as static inline functions prefixed cxen_.
 * Included from shim.h after <xenctrl.h> (which defines xen_mb/xen_rmb/xen_wmb for tools) and
 * <xen/vm_event.h> (which defines vm_event_back_ring_t through DEFINE_RING_TYPES). */
#ifndef CXEN_VM_EVENT_SHIM_H
#define CXEN_VM_EVENT_SHIM_H

/* The Swift decoder reads requests by these offsets (notes/swift-libxen.md): fail the build if
 * the headers ever change them. */
_Static_assert(sizeof(vm_event_request_t) == 400, "vm_event_request_t layout");
_Static_assert(offsetof(vm_event_request_t, u) == 24, "vm_event_request_t.u offset");
_Static_assert(offsetof(vm_event_request_t, data) == 56, "vm_event_request_t.data offset");

/* Initialises the shared page xc_monitor_enable mapped and our private back-ring view of it
 * (SHARED_RING_INIT + BACK_RING_INIT over one XC_PAGE_SIZE page). */
static inline void cxen_vm_event_ring_init(vm_event_back_ring_t *ring, void *page) {
    vm_event_sring_t *sring = (vm_event_sring_t *)page;
    SHARED_RING_INIT(sring);
    BACK_RING_INIT(ring, sring, XC_PAGE_SIZE);
}

/* Requests Xen produced that we have not consumed yet (RING_HAS_UNCONSUMED_REQUESTS). */
static inline unsigned int cxen_vm_event_unconsumed(const vm_event_back_ring_t *ring) {
    return RING_HAS_UNCONSUMED_REQUESTS(ring);
}

/* Slots in the ring (RING_SIZE): 8 for one 4 KiB page. */
static inline unsigned int cxen_vm_event_ring_size(const vm_event_back_ring_t *ring) {
    return RING_SIZE(ring);
}

/* Copies the next request out of the shared page and consumes it. The read barrier keeps the
 * copy after the producer-index read; req_event asks Xen to notify us for the next one (as
 * tools/tests/xen-access does). Returns 0 when nothing is waiting. */
static inline int cxen_vm_event_take_request(vm_event_back_ring_t *ring, vm_event_request_t *out) {
    if (!RING_HAS_UNCONSUMED_REQUESTS(ring))
        return 0;
    xen_rmb();
    RING_IDX cons = ring->req_cons;
    *out = *RING_GET_REQUEST(ring, cons);
    cons++;
    ring->req_cons = cons;
    ring->sring->req_event = cons + 1;
    return 1;
}

/* A pointer to the next request's slot without consuming it (for zero-copy decoding), or NULL. */
static inline const vm_event_request_t *cxen_vm_event_peek_request(vm_event_back_ring_t *ring) {
    if (!RING_HAS_UNCONSUMED_REQUESTS(ring))
        return NULL;
    xen_rmb();
    return RING_GET_REQUEST(ring, ring->req_cons);
}

/* Consumes the request cxen_vm_event_peek_request returned. */
static inline void cxen_vm_event_consume_request(vm_event_back_ring_t *ring) {
    RING_IDX cons = ring->req_cons + 1;
    ring->req_cons = cons;
    ring->sring->req_event = cons + 1;
}

/* Puts one response in the ring and publishes it (RING_PUSH_RESPONSES: write barrier, then
 * the producer index). Xen reads it after our event-channel notification. */
static inline void cxen_vm_event_put_response(vm_event_back_ring_t *ring, const vm_event_response_t *rsp) {
    RING_IDX prod = ring->rsp_prod_pvt;
    *RING_GET_RESPONSE(ring, prod) = *rsp;
    prod++;
    ring->rsp_prod_pvt = prod;
    RING_PUSH_RESPONSES(ring);
}

/* The producer's side, as Xen does it (vm_event_put_request): for tests and benchmarks that run
 * a ring in ordinary memory. Returns 0 when the ring is full. */
static inline int cxen_vm_event_test_produce(void *page, const vm_event_request_t *req) {
    vm_event_sring_t *sring = (vm_event_sring_t *)page;
    vm_event_front_ring_t front;
    front.sring = sring;
    front.nr_ents = __RING_SIZE(sring, XC_PAGE_SIZE);
    front.req_prod_pvt = sring->req_prod;
    front.rsp_cons = sring->rsp_prod;
    if (front.req_prod_pvt - sring->rsp_prod >= front.nr_ents)
        return 0;
    *RING_GET_REQUEST(&front, front.req_prod_pvt) = *req;
    front.req_prod_pvt++;
    RING_PUSH_REQUESTS(&front);
    return 1;
}

/* MEM_ACCESS_* flag names are plain macros, but XENMEM_access_* is an enum: nothing to wrap.
 * VM_EVENT_FLAG_* and VM_EVENT_REASON_* import as integer macros. */

#endif
