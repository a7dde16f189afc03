// EXP_POLY sets Y8 = e^y, four float64 lanes, for the y in Y5 (within the
// range the caller has clamped it to, where 2^k is a normal number): as
// expPoly (tanh.go) with FMA, y = k·ln2 + r (k in Y6, r in Y7), e^r by its
// Taylor series to r¹² (Horner's rule), 2^k put into the exponent. OFF is
// the offset from AX of the constants, 32 bytes apart: log2e, ln2's high
// and low parts, 1/12! … 1/2!, 1, and 1.5·2⁵² + 1023 (the exponent trick).
// Used by the tanh, sigmoid and softmax-exponential kernels.
#define EXP_POLY(OFF) \
	VMULPD  OFF(AX), Y5, Y6; \
	VROUNDPD $0, Y6, Y6; \
	VMOVAPD Y5, Y7; \
	VFNMADD231PD (OFF+32)(AX), Y6, Y7; \
	VFNMADD231PD (OFF+64)(AX), Y6, Y7; \
	VMOVUPD (OFF+96)(AX), Y8; \
	VFMADD213PD (OFF+128)(AX), Y7, Y8; \
	VFMADD213PD (OFF+160)(AX), Y7, Y8; \
	VFMADD213PD (OFF+192)(AX), Y7, Y8; \
	VFMADD213PD (OFF+224)(AX), Y7, Y8; \
	VFMADD213PD (OFF+256)(AX), Y7, Y8; \
	VFMADD213PD (OFF+288)(AX), Y7, Y8; \
	VFMADD213PD (OFF+320)(AX), Y7, Y8; \
	VFMADD213PD (OFF+352)(AX), Y7, Y8; \
	VFMADD213PD (OFF+384)(AX), Y7, Y8; \
	VFMADD213PD (OFF+416)(AX), Y7, Y8; \
	VFMADD213PD (OFF+448)(AX), Y7, Y8; \
	VFMADD213PD (OFF+448)(AX), Y7, Y8; \
	VADDPD  (OFF+480)(AX), Y6, Y6; \
	VPSLLQ  $52, Y6, Y6; \
	VMULPD  Y6, Y8, Y8

// EXP_POLY3 is EXP_POLY on three independent sets of four lanes at once,
// the y of each in A5, B5, C5 and its e^y left in A8, B8, C8 (A6, A7 … the
// sets' scratch), each instruction issued for the three sets in turn: the
// same operations in the same order per lane, so the results are
// EXP_POLY's bit for bit, but three of Horner's dependent chains in
// flight instead of one.
#define EXP_POLY3_STEP(OP, MEM, A, B, C, DA, DB, DC) \
	OP MEM, A, DA; \
	OP MEM, B, DB; \
	OP MEM, C, DC
#define EXP_POLY3(OFF, A5, A6, A7, A8, B5, B6, B7, B8, C5, C6, C7, C8) \
	EXP_POLY3_STEP(VMULPD, OFF(AX), A5, B5, C5, A6, B6, C6); \
	VROUNDPD $0, A6, A6; \
	VROUNDPD $0, B6, B6; \
	VROUNDPD $0, C6, C6; \
	VMOVAPD A5, A7; \
	VMOVAPD B5, B7; \
	VMOVAPD C5, C7; \
	EXP_POLY3_STEP(VFNMADD231PD, (OFF+32)(AX), A6, B6, C6, A7, B7, C7); \
	EXP_POLY3_STEP(VFNMADD231PD, (OFF+64)(AX), A6, B6, C6, A7, B7, C7); \
	VMOVUPD (OFF+96)(AX), A8; \
	VMOVUPD (OFF+96)(AX), B8; \
	VMOVUPD (OFF+96)(AX), C8; \
	EXP_POLY3_STEP(VFMADD213PD, (OFF+128)(AX), A7, B7, C7, A8, B8, C8); \
	EXP_POLY3_STEP(VFMADD213PD, (OFF+160)(AX), A7, B7, C7, A8, B8, C8); \
	EXP_POLY3_STEP(VFMADD213PD, (OFF+192)(AX), A7, B7, C7, A8, B8, C8); \
	EXP_POLY3_STEP(VFMADD213PD, (OFF+224)(AX), A7, B7, C7, A8, B8, C8); \
	EXP_POLY3_STEP(VFMADD213PD, (OFF+256)(AX), A7, B7, C7, A8, B8, C8); \
	EXP_POLY3_STEP(VFMADD213PD, (OFF+288)(AX), A7, B7, C7, A8, B8, C8); \
	EXP_POLY3_STEP(VFMADD213PD, (OFF+320)(AX), A7, B7, C7, A8, B8, C8); \
	EXP_POLY3_STEP(VFMADD213PD, (OFF+352)(AX), A7, B7, C7, A8, B8, C8); \
	EXP_POLY3_STEP(VFMADD213PD, (OFF+384)(AX), A7, B7, C7, A8, B8, C8); \
	EXP_POLY3_STEP(VFMADD213PD, (OFF+416)(AX), A7, B7, C7, A8, B8, C8); \
	EXP_POLY3_STEP(VFMADD213PD, (OFF+448)(AX), A7, B7, C7, A8, B8, C8); \
	EXP_POLY3_STEP(VFMADD213PD, (OFF+448)(AX), A7, B7, C7, A8, B8, C8); \
	EXP_POLY3_STEP(VADDPD, (OFF+480)(AX), A6, B6, C6, A6, B6, C6); \
	VPSLLQ  $52, A6, A6; \
	VPSLLQ  $52, B6, B6; \
	VPSLLQ  $52, C6, C6; \
	VMULPD  A6, A8, A8; \
	VMULPD  B6, B8, B8; \
	VMULPD  C6, C8, C8
