import torch
from torch import nn


class LabelEmbeddingHead(nn.Module):
    """ML-Decoder-style head: one learned query per class attends, through one
    transformer-decoder layer, to the backbone's spatial tokens; the resulting
    label-wise embedding of class c gives the logit of c through its own linear layer."""

    def __init__(self, in_channels, num_classes, embed_dim=768, num_heads=8, ffn_dim=2048, dropout=0.1):
        super().__init__()
        self.input_proj = nn.Linear(in_channels, embed_dim)
        self.queries = nn.Parameter(torch.randn(num_classes, embed_dim) * 0.02)
        self.decoder = nn.TransformerDecoderLayer(embed_dim, num_heads, ffn_dim, dropout, batch_first=True)
        # Per-class linear layer ("group FC"): logit_c = <w_c, e_c> + b_c.
        self.class_weight = nn.Parameter(torch.randn(num_classes, embed_dim) * embed_dim ** -0.5)
        self.class_bias = nn.Parameter(torch.zeros(num_classes))

    def forward(self, feature_map):
        tokens = self.input_proj(feature_map.flatten(2).transpose(1, 2))  # [B, HW, D]
        queries = self.queries.unsqueeze(0).expand(tokens.shape[0], -1, -1)
        embeddings = self.decoder(queries, tokens)                          # [B, C, D]
        logits = (embeddings * self.class_weight).sum(-1) + self.class_bias
        return logits, embeddings
