"""The label-embedding head: ML-Decoder (Ridnik et al., WACV 2023) as the code of L2D and of
the MPSCD authors trains it (their `models/ml_decoder.py`, read for its definition)."""
import torch
from torch import nn
from torch.nn import functional as F


class QueryDecoderLayer(nn.Module):
    """ML-Decoder's decoder layer: a transformer-decoder layer without self-attention
    between the queries, so that each class's embedding depends on its own query and the
    image only. It keeps the residual and norm that wrapped the removed self-attention
    (the query plus a dropped-out copy of itself), then cross-attention to the image tokens
    and the feed-forward block, each post-norm."""

    def __init__(self, embed_dim, num_heads=8, ffn_dim=2048, dropout=0.1):
        super().__init__()
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(embed_dim) for _ in range(3))
        self.cross_attn = nn.MultiheadAttention(embed_dim, num_heads, dropout=dropout, batch_first=True)
        self.linear1 = nn.Linear(embed_dim, ffn_dim)
        self.linear2 = nn.Linear(ffn_dim, embed_dim)
        self.dropout = nn.Dropout(dropout)  # parameter-free: one module serves the four places

    def forward(self, queries, tokens):
        x = self.norm1(queries + self.dropout(queries))
        attended = self.cross_attn(x, tokens, tokens, need_weights=False)[0]
        x = self.norm2(x + self.dropout(attended))
        x = self.norm3(x + self.dropout(self.linear2(self.dropout(F.relu(self.linear1(x))))))
        return x


class LabelEmbeddingHead(nn.Module):
    """ML-Decoder: the backbone's spatial tokens, projected to D with a ReLU, are attended
    by one fixed query per class (N(0, 1), never trained: a buffer) through one
    QueryDecoderLayer; the label-wise embedding e_c of class c gives its logit through its
    own linear layer ("group FC": logit_c = <w_c, e_c> + b_c, xavier-normal w, zero b).
    ML-Decoder shares a query between several classes when there are more than 100; the
    label-wise distillation terms need one embedding per class, so here every class has
    its own query at any C (identical to ML-Decoder up to 100 classes: VOC, COCO, NUS-WIDE)."""

    def __init__(self, in_channels, num_classes, embed_dim=768, num_heads=8, ffn_dim=2048, dropout=0.1):
        super().__init__()
        self.input_proj = nn.Linear(in_channels, embed_dim)
        self.register_buffer("queries", torch.randn(num_classes, embed_dim))
        self.decoder = QueryDecoderLayer(embed_dim, num_heads, ffn_dim, dropout)
        self.class_weight = nn.Parameter(nn.init.xavier_normal_(torch.empty(num_classes, embed_dim)))
        self.class_bias = nn.Parameter(torch.zeros(num_classes))

    def forward(self, feature_map):
        tokens = F.relu(self.input_proj(feature_map.flatten(2).transpose(1, 2)))  # [B, HW, D]
        queries = self.queries.unsqueeze(0).expand(tokens.shape[0], -1, -1)
        embeddings = self.decoder(queries, tokens)                                 # [B, C, D]
        logits = (embeddings * self.class_weight).sum(-1) + self.class_bias
        return logits, embeddings
