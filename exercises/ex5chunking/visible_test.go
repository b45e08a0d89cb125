package ex5chunking

import "testing"

func TestEnsemble(t *testing.T) { CheckEnsemble(t, Ensemble) }

func TestChapterAction(t *testing.T) { CheckChapterAction(t, ChapterAction) }
