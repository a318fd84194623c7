/* probe.c — links the real CUDA or HIP build of backends/cuda and asks for a
 * device. On machines without one (development, CI) it must say so in a
 * sentence, not crash: that is what parley shows before falling back to CPU. */
#include <stdio.h>

#include "backends/cuda/gpu.h"

int main(void)
{
    pl_gpu_info info;
    if (pl_gpu_probe(&info) != 0) {
        printf("%s: %s; parley runs on the CPU\n", pl_gpu_backend_name(), pl_gpu_last_error());
        return 0;
    }
    printf("%s: %d device(s), %s, %zu MiB\n", pl_gpu_backend_name(), info.n_devices, info.name,
           info.mem_total >> 20);
    return 0;
}
