namespace PathNotebooks.Training;

/// <summary>A logged point of a training run.</summary>
public sealed record TrainPoint(int Step, double Loss, double Seconds);
