/** MC146818A real-time clock and CMOS NVRAM (ports 0x70/0x71, IRQ 8). */
export * from './rtc-cmos.js';
export { type CivilDate, civilFromDays, daysFromCivil, rtcDayOfWeek, toBcd, fromBcd } from './calendar.js';
