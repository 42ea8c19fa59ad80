/* Entry of every core: global pointer, a stack per hart id at the TCDM's
   top (linker symbols), then C (_imcc_start in hal/start.c). */
  .section .text.init, "ax"
  .globl _start
_start:
  .option push
  .option norelax
  la    gp, __global_pointer$
  .option pop
  csrr  a0, mhartid
  la    sp, __stack_top
  la    t0, __stack_size
  mul   t1, a0, t0
  sub   sp, sp, t1
  tail  _imcc_start
