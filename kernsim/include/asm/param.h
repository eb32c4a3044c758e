/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _ASM_PARAM_H
#define _ASM_PARAM_H

/*
 * kernsim: CONFIG_HZ is chosen when the simulated kernel boots (--hz), not
 * when the module is built, so HZ is read from the running kernel.  (It is
 * therefore not a constant expression: a static initializer cannot use it.)
 */
unsigned int kernsim_hz(void);
#define HZ		(kernsim_hz())
#define USER_HZ		100

#endif
