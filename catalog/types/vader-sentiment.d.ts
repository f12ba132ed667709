// Minimal declarations for vader-sentiment 1.1.3 (CommonJS, ships no types): only what the catalog uses.
declare module 'vader-sentiment' {
  /** VADER polarity scores: `compound` in [-1, 1]; `pos`, `neu`, `neg` are proportions summing to ~1. */
  export type PolarityScores = { neg: number; neu: number; pos: number; compound: number }
  export const SentimentIntensityAnalyzer: {
    polarity_scores(text: string): PolarityScores
  }
  const vader: { SentimentIntensityAnalyzer: typeof SentimentIntensityAnalyzer }
  export default vader
}
