/*
 * Writes a KVM arm64 vgic-state file for a 2-vCPU GICv3 guest with 32 SPIs and 2 LPIs, using the
 * exact seq_printf formats of Linux arch/arm64/kvm/vgic/vgic-debug.c (print_dist_state,
 * print_header, print_irq_state, the "LPI %4d freed" line) and its iteration order (distributor,
 * then per vCPU INTIDs 0-31, then SPIs, then LPIs). KVM cannot run on this machine, so the
 * interrupt state is chosen here (see README.md); the text layout is the kernel's.
 * Build and run: cc -o /tmp/mkvgic make-vgic-state.c && /tmp/mkvgic > vgic-state.txt
 */
#include <stdio.h>

struct irq { int intid, target, pending, line, active, enabled, hw, level, group, hwintid;
             unsigned mpidr, source; int prio, vcpu; };

static void header(const char *hdr, int id)
{
	printf("\n");
	printf("%s%2d TYP   ID TGT_ID PLAEHCG     HWID   TARGET SRC PRI VCPU_ID\n", hdr, id);
	printf("----------------------------------------------------------------\n");
}

static void row(struct irq *i)
{
	const char *type = i->intid < 16 ? "SGI" : i->intid < 32 ? "PPI" : i->intid < 1020 ? "SPI" : "LPI";
	printf("       %s %4d "
	       "    %2d "
	       "%d%d%d%d%d%d%d "
	       "%8d "
	       "%8x "
	       " %2x "
	       "%3d "
	       "     %2d "
	       "\n",
	       type, i->intid, i->target, i->pending, i->line, i->active, i->enabled, i->hw, i->level,
	       i->group, i->hwintid, i->mpidr, i->source, i->prio, i->vcpu);
}

int main(void)
{
	int nr_cpus = 2, nr_spis = 32;
	printf("Distributor\n");
	printf("===========\n");
	printf("vgic_model:\t%s\n", "GICv3");
	printf("nr_spis:\t%d\n", nr_spis);
	printf("nr_lpis:\t%d\n", 2);
	printf("enabled:\t%d\n", 1);
	printf("\n");
	printf("P=pending_latch, L=line_level, A=active\n");
	printf("E=enabled, H=hw, C=config (level=1, edge=0)\n");
	printf("G=group\n");
	for (int v = 0; v < nr_cpus; v++) {
		for (int id = 0; id < 32; id++) {
			struct irq i = { id, v, 0, 0, 0, 0, 0, id >= 16, 1, 0, 0, 0, 0xa0, -1 };
			if (id == 0)
				header("VCPU", v);
			if (id < 16)
				i.enabled = 1;                 /* Linux enables all SGIs */
			if (v == 1 && id == 1) {           /* IPI from vCPU 0, queued on vCPU 1 */
				i.pending = 1; i.source = 0x1; i.vcpu = 1;
			}
			if (id == 27) {                    /* virtual timer: hw-mapped, level */
				i.enabled = 1; i.hw = 1; i.hwintid = 27; i.line = v == 0;
				i.active = v == 0; i.vcpu = v == 0 ? 0 : -1;
			}
			if (id == 25) i.prio = 0;          /* maintenance interrupt, unused by guests */
			row(&i);
		}
	}
	for (int id = 32; id < 32 + nr_spis; id++) {
		struct irq i = { id, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0xa0, -1 };
		if (id == 32)
			header("SPI ", 0);
		if (id == 33) i.enabled = 1;                       /* pl011 */
		if (id == 48) { i.enabled = 1; i.line = 1; i.vcpu = 0; i.level = 1; } /* virtio, line up */
		if (id == 49) { i.enabled = 1; i.level = 0; i.pending = 1; i.target = 1; i.mpidr = 0x1; i.vcpu = 1; }
		row(&i);
	}
	{
		struct irq lpi = { 8192, 1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0xa0, 1 };
		row(&lpi);
		printf("       LPI %4d freed\n", 8193);
	}
	return 0;
}
