// Exception vectors (SDM Vol. 3A 6.3.1) the CPU model raises, delivers or reports in an exit.

export const DB_VECTOR = 1;
export const NMI_VECTOR = 2;
export const BP_VECTOR = 3;
export const UD_VECTOR = 6;
export const DF_VECTOR = 8;
export const GP_VECTOR = 13;
export const PF_VECTOR = 14;
export const AC_VECTOR = 17;
export const MC_VECTOR = 18;
