/**
 * Calendar arithmetic for the RTC: conversion between a day count (days since 1970-01-01,
 * negative before) and a proleptic Gregorian date, and BCD coding of register values.
 * Pure integer functions, no allocation except `civilFromDays`'s result record.
 */

/** Seconds in one day. */
export const SECONDS_PER_DAY = 86_400;
/** Days in a 400-year Gregorian cycle. */
const DAYS_PER_ERA = 146_097;
/** Days from 0000-03-01 (start of the shifted calendar) to 1970-01-01. */
const DAYS_0000_03_01_TO_EPOCH = 719_468;

/** A calendar date: full year (e.g. 2024), month 1-12, day of month 1-31. */
export interface CivilDate {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}

/**
 * Days since 1970-01-01 of `year`-`month`-`day` (Gregorian). The calendar is counted from
 * March so that the leap day falls at the end of a year; a day past the end of its month
 * (31 February) simply counts on into the next month.
 */
export function daysFromCivil(year: number, month: number, day: number): number {
  const shiftedYear = month <= 2 ? year - 1 : year;
  const era = Math.floor(shiftedYear / 400);
  const yearOfEra = shiftedYear - era * 400;
  const monthFromMarch = (month + 9) % 12;
  const dayOfYear = Math.floor((153 * monthFromMarch + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * DAYS_PER_ERA + dayOfEra - DAYS_0000_03_01_TO_EPOCH;
}

/** The Gregorian date `days` days after 1970-01-01 (inverse of `daysFromCivil`). */
export function civilFromDays(days: number): CivilDate {
  const shifted = days + DAYS_0000_03_01_TO_EPOCH;
  const era = Math.floor(shifted / DAYS_PER_ERA);
  const dayOfEra = shifted - era * DAYS_PER_ERA;
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthFromMarch = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthFromMarch + 2) / 5) + 1;
  const month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  return { year, month, day };
}

/** Day of the week of a day count, RTC numbering: 1 = Sunday ... 7 = Saturday. */
export function rtcDayOfWeek(days: number): number {
  // 1970-01-01 was a Thursday (5 in the RTC's numbering).
  return ((((days + 4) % 7) + 7) % 7) + 1;
}

/** Binary 0-99 → packed BCD. */
export function toBcd(value: number): number {
  return ((Math.floor(value / 10) % 10) << 4) | value % 10;
}

/** Packed BCD → binary, or -1 when a nibble is not a decimal digit. */
export function fromBcd(value: number): number {
  const tens = (value >>> 4) & 0x0f;
  const units = value & 0x0f;
  if (tens > 9 || units > 9) return -1;
  return tens * 10 + units;
}
