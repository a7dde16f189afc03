// STORE64_NEED ends one step of a float64 vector kernel that leaves lanes
// to Go (exp64AVX2, log1pAVX2): OK holds the lanes the kernel decided, R
// their results, X the arguments; ONES is a scratch register. It writes R
// to (DI)(BX*8) with the undecided lanes holding X, their mask (the
// complement of OK) to need (R8)(DX*1), and steps BX and DX to the next
// four (R9 is scratch).
#define STORE64_NEED(OK, X, R, ONES) \
	VPCMPEQQ ONES, ONES, ONES; \
	VXORPD  ONES, OK, OK; \
	VBLENDVPD OK, X, R, R; \
	VMOVUPD R, (DI)(BX*8); \
	VMOVMSKPD OK, R9; \
	MOVB    R9, (R8)(DX*1); \
	ADDQ    $4, BX; \
	INCQ    DX
