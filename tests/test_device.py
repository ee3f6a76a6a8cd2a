"""mmcse.utils.device: which CPUs compute bfloat16 natively (bf16 autocast is emulated, and slow, elsewhere)."""

from __future__ import annotations

from mmcse.utils.device import cpu_has_native_bf16

X86 = "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu sse sse2 avx avx2 fma {extra}\nbogomips\t: 4000\n"


def test_native_bf16_is_read_from_the_cpu_flags():
    assert not cpu_has_native_bf16(X86.format(extra=""))  # AVX2 only: emulated
    assert not cpu_has_native_bf16(X86.format(extra="avx512f avx512bw avx512_vnni"))  # AVX-512 without BF16
    assert cpu_has_native_bf16(X86.format(extra="avx512f avx512_bf16"))
    assert cpu_has_native_bf16(X86.format(extra="amx_tile amx_bf16"))
    assert cpu_has_native_bf16("processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n")  # Arm v8.6
    assert not cpu_has_native_bf16("processor\t: 0\nFeatures\t: fp asimd\n")
    assert not cpu_has_native_bf16("")  # nothing known: not assumed fast
    assert isinstance(cpu_has_native_bf16(), bool)  # this machine's /proc/cpuinfo, or False without one
